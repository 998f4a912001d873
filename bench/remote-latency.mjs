#!/usr/bin/env node
/**
 * Hook latency against a remote tracking server: a real `mlflow server` on
 * loopback behind bench/delay-proxy.mjs, at 0, 50 and 200 ms round-trip time.
 * For each: our hook (cold process, the read-tool session fixture), how many
 * runs delivered and how many spooled, and MLflow's own Python hook on the
 * same transcript through the same proxy. The hook must stay under 2 s,
 * spooling rather than waiting.
 *
 * `tc netem` in a network namespace is the better tool where the kernel has
 * it (`ip netns exec X tc qdisc add dev lo root netem delay 25ms`); the
 * proxy adds the same delays in user space and one extra round trip per
 * connection for the TCP handshake.
 *
 * Usage (needs `npm run build` and the test venv): node bench/remote-latency.mjs [--runs 9] [--rtt 0,50,200]
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDelayProxy } from './delay-proxy.mjs';
import { fmt, median, repoRoot, startServer, tempDir, timeRun, timeRunAsync, venvBin } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const runs = Number(arg('--runs', '9'));
const rtts = arg('--rtt', '0,50,200').split(',').map(Number);
const hook = path.join(repoRoot, 'dist', 'claude-mlflow-hook.mjs');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'claude-code-2.1.197', 'read-tool-session.jsonl');
const stopStdin = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'claude-code-2.1.197', 'stop-hook-stdin.json'), 'utf8'));

const dir = tempDir('claude-mlflow-remote-');
const server = await startServer(dir);
const target = new URL(server.url);

/** A fresh session transcript (a new trace each run). */
function session(n) {
  const id = `00000000-0000-4000-a000-${String(n).padStart(12, '0')}`;
  const file = path.join(dir, `${id}.jsonl`);
  writeFileSync(file, readFileSync(fixture, 'utf8').replaceAll(stopStdin.session_id, id));
  return JSON.stringify({ ...stopStdin, session_id: id, transcript_path: file, cwd: dir });
}

const spoolCount = (data) => {
  try {
    return readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json')).length;
  } catch {
    return 0;
  }
};

let n = 0;
try {
  console.log(`Hook latency against a remote server (delay proxy on loopback), ${runs} runs each, cold process:`);
  for (const rtt of rtts) {
    const proxy = await startDelayProxy({ host: target.hostname, port: Number(target.port) }, rtt);
    const data = path.join(dir, `data-${rtt}`);
    mkdirSync(data, { recursive: true });
    const base = { PATH: process.env.PATH, HOME: dir, USER: 'bench', MLFLOW_CLAUDE_TRACING_ENABLED: 'true', MLFLOW_TRACKING_URI: proxy.url, MLFLOW_DISABLE_TELEMETRY: 'true' };
    const ours = { ...base, CLAUDE_MLFLOW_HOME: data, MLFLOW_EXPERIMENT_NAME: `remote-ours-${rtt}` };
    const theirs = { ...base, MLFLOW_EXPERIMENT_NAME: `remote-theirs-${rtt}` };
    timeRun(process.execPath, [hook], { input: session(++n), env: { ...ours, MLFLOW_TRACKING_URI: server.url } }); // the experiment exists
    // The first hook against this server looks the experiment up by name (one round trip more); later ones remember its id.
    const before = spoolCount(data);
    const first = await timeRunAsync(process.execPath, [hook], { input: session(++n), env: ours });
    const firstSpooled = spoolCount(data) > before;
    rmSync(path.join(data, 'spool', '.backoff.json'), { force: true }); // measure the steady state, not a backoff the first run may have started
    const times = [];
    let spooled = 0;
    for (let i = 0; i < runs; i++) {
      const before = spoolCount(data);
      times.push(await timeRunAsync(process.execPath, [hook], { input: session(++n), env: ours }));
      if (spoolCount(data) > before) spooled += 1;
    }
    const python = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 3)); i++) {
      python.push(await timeRunAsync(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook'], { input: session(++n), env: theirs, cwd: dir }));
    }
    proxy.close();
    const m = median(times);
    console.log(
      `   RTT ${String(rtt).padStart(3)} ms: first hook ${fmt(first)} (${firstSpooled ? 'spooled' : 'delivered'}); then median ${fmt(m)}, max ${fmt(Math.max(...times))} ` +
        `(${runs - spooled} delivered, ${spooled} spooled)   MLflow Python hook median ${fmt(median(python))}   ratio ${(median(python) / m).toFixed(1)}x   cap: 2000 ms`,
    );
  }
} finally {
  server.stop();
}
