#!/usr/bin/env node
/**
 * Hook latency against a remote tracking server at 0, 50 and 200 ms
 * round-trip time. For each: our hook (cold process, the read-tool session
 * fixture), how many runs delivered and how many spooled, and MLflow's own
 * Python hook on the same transcript over the same path. The hook must stay
 * under 2 s, spooling rather than waiting.
 *
 * Two ways to add the delay:
 * - default: a real `mlflow server` on loopback behind bench/delay-proxy.mjs,
 *   a user-space TCP proxy. It holds each direction back by half the RTT and
 *   adds one more RTT per connection for the TCP handshake, but it is not a
 *   network: no packets are delayed, the proxy's own connection is local.
 * - --netem: the kernel's `tc netem` on a real network path. This machine's
 *   kernel has no netem, so bench/netem-router.sh boots a small QEMU VM
 *   (software emulation) with Debian's kernel that bridges a tap in the
 *   network namespace cmlf-client (10.77.0.1) to one in the root namespace
 *   (10.77.0.2) with `netem delay RTT/2` on both of its ports. The server
 *   listens on 10.77.0.2; both hooks run inside `ip netns exec cmlf-client`,
 *   so every packet crosses the VM. The router is rebooted for each RTT and
 *   the ping RTT it measures is printed with the results. Needs root and
 *   `apt-get install qemu-system-x86 linux-image-amd64 busybox-static iputils-ping`.
 *
 * Usage (needs `npm run build` and the test venv): node bench/remote-latency.mjs [--netem] [--runs 9] [--rtt 0,50,200]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDelayProxy } from './delay-proxy.mjs';
import { fmt, median, repoRoot, startServer, tempDir, timeRun, timeRunAsync, venvBin } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (/** @type {string} */ name, /** @type {string} */ fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const runs = Number(arg('--runs', '9'));
const rtts = arg('--rtt', '0,50,200').split(',').map(Number);
const netem = argv.includes('--netem');
const hook = path.join(repoRoot, 'dist', 'claude-mlflow-hook.mjs');
const fixture = path.join(repoRoot, 'test', 'fixtures', 'claude-code-2.1.197', 'read-tool-session.jsonl');
const stopStdin = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'claude-code-2.1.197', 'stop-hook-stdin.json'), 'utf8'));

/**
 * bench/netem-router.sh with these arguments; its output, or an error.
 * @param {...string} args
 */
function router(...args) {
  const r = spawnSync('bash', [path.join(repoRoot, 'bench', 'netem-router.sh'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`bench/netem-router.sh ${args.join(' ')} exited ${r.status}`);
  return r.stdout;
}
/**
 * With --netem, a command runs in the client namespace, on the far side of the router.
 * @param {string} cmd
 * @param {string[]} args
 * @returns {[string, string[]]}
 */
const client = (cmd, args) => (netem ? ['ip', ['netns', 'exec', 'cmlf-client', cmd, ...args]] : [cmd, args]);

const dir = tempDir('claude-mlflow-remote-');
let routerRtt;
if (netem) router('start', String((routerRtt = rtts[0]))); // the server's address lives on the router's tap
const server = await startServer(dir, { host: netem ? '10.77.0.2' : '127.0.0.1' }).catch((e) => {
  if (netem) router('stop');
  throw e;
});
const target = new URL(server.url);

/**
 * A fresh session transcript (a new trace each run).
 * @param {number} n
 */
function session(n) {
  const id = `00000000-0000-4000-a000-${String(n).padStart(12, '0')}`;
  const file = path.join(dir, `${id}.jsonl`);
  writeFileSync(file, readFileSync(fixture, 'utf8').replaceAll(stopStdin.session_id, id));
  return JSON.stringify({ ...stopStdin, session_id: id, transcript_path: file, cwd: dir });
}

const spoolCount = (/** @type {string} */ data) => {
  try {
    return readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json')).length;
  } catch {
    return 0;
  }
};

let n = 0;
try {
  const how = netem ? 'tc netem in a QEMU VM router, hooks in netns cmlf-client' : 'delay proxy on loopback';
  console.log(`Hook latency against a remote server (${how}), ${runs} runs each, cold process:`);
  for (const rtt of rtts) {
    let url = server.url;
    let ping = '';
    let proxy;
    if (netem) {
      if (rtt !== routerRtt) router('start', String((routerRtt = rtt)));
      const avg = /** @type {RegExpMatchArray} */ (router('ping', '10').match(/= [\d.]+\/([\d.]+)\//))[1];
      ping = ` (ping ${Number(avg).toFixed(1)} ms)`;
    } else {
      proxy = await startDelayProxy({ host: target.hostname, port: Number(target.port) }, rtt);
      url = proxy.url;
    }
    const data = path.join(dir, `data-${rtt}`);
    mkdirSync(data, { recursive: true });
    const base = {
      PATH: process.env.PATH,
      HOME: dir,
      USER: 'bench',
      MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
      MLFLOW_TRACKING_URI: url,
      MLFLOW_DISABLE_TELEMETRY: 'true',
    };
    const ours = { ...base, CLAUDE_MLFLOW_HOME: data, MLFLOW_EXPERIMENT_NAME: `remote-ours-${rtt}` };
    const theirs = { ...base, MLFLOW_EXPERIMENT_NAME: `remote-theirs-${rtt}` };
    timeRun(process.execPath, [hook], { input: session(++n), env: { ...ours, MLFLOW_TRACKING_URI: server.url } }); // the experiment exists
    // The first hook against this server looks the experiment up by name (one round trip more); later ones remember its id.
    const before = spoolCount(data);
    const first = await timeRunAsync(...client(process.execPath, [hook]), { input: session(++n), env: ours });
    const firstSpooled = spoolCount(data) > before;
    rmSync(path.join(data, 'spool', '.backoff.json'), { force: true }); // measure the steady state, not a backoff the first run may have started
    const times = [];
    let spooled = 0;
    for (let i = 0; i < runs; i++) {
      const before = spoolCount(data);
      times.push(await timeRunAsync(...client(process.execPath, [hook]), { input: session(++n), env: ours }));
      if (spoolCount(data) > before) spooled += 1;
    }
    const python = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 3)); i++) {
      python.push(
        await timeRunAsync(...client(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook']), {
          input: session(++n),
          env: theirs,
          cwd: dir,
        }),
      );
    }
    proxy?.close();
    const m = median(times);
    console.log(
      `   RTT ${String(rtt).padStart(3)} ms${ping}: first hook ${fmt(first)} (${firstSpooled ? 'spooled' : 'delivered'}); then median ${fmt(m)}, max ${fmt(Math.max(...times))} ` +
        `(${runs - spooled} delivered, ${spooled} spooled)   MLflow Python hook median ${fmt(median(python))}   ratio ${(median(python) / m).toFixed(1)}x   cap: 2000 ms`,
    );
  }
} finally {
  server.stop();
  if (netem) router('stop');
}
