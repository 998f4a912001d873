#!/usr/bin/env node
/**
 * Benchmarks, side by side against the reference, printed as ratios.
 *   P1  hook cold-process latency to "trace accepted" on a 50-turn transcript,
 *       ours vs MLflow's Python hook (`mlflow autolog claude stop-hook`), same server.
 *   P4  `claude-mlflow --help` cold start vs `node -e 0`.
 *   P5  peak RSS of the hook on a 100 MB transcript, ours vs MLflow's Python hook.
 * Needs `npm run build` and the test venv (scripts/setup-test-venv.sh).
 * Usage: node bench/run.mjs [--runs N] [--skip-p5]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateTranscript } from './gen-transcript.mjs';
import { fmt, median, peakRssMb, repoRoot, startServer, tempDir, timeRun, venvBin } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 15;
const skipP5 = args.includes('--skip-p5');
const hook = path.join(repoRoot, 'dist', 'claude-mlflow-hook.mjs');
const cli = path.join(repoRoot, 'dist', 'cli.js');
const dir = tempDir();
const server = await startServer(dir);
const baseEnv = {
  PATH: process.env.PATH,
  HOME: dir,
  USER: 'bench',
  MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
  MLFLOW_TRACKING_URI: server.url,
  MLFLOW_DISABLE_TELEMETRY: 'true',
};

/** The hook input Claude Code gives: with the last assistant message, which the hook checks the transcript against. */
function stdinFor(transcript, sessionId) {
  const rows = readFileSync(transcript, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const last = rows.findLast((r) => r.type === 'assistant' && r.message?.content?.some?.((b) => b.type === 'text'));
  const lastMessage = last?.message.content.filter((b) => b.type === 'text').map((b) => b.text).join('\n').trim();
  return JSON.stringify({ session_id: sessionId, transcript_path: transcript, cwd: dir, hook_event_name: 'Stop', last_assistant_message: lastMessage });
}

try {
  // P1
  const t50 = path.join(dir, 'fifty.jsonl');
  const summary = generateTranscript(t50, { megabytes: 4, turns: 50 });
  const input = stdinFor(t50, 'bench-session');
  const oursEnv = { ...baseEnv, CLAUDE_MLFLOW_HOME: path.join(dir, 'data'), MLFLOW_EXPERIMENT_NAME: 'bench-ours' };
  const theirsEnv = { ...baseEnv, MLFLOW_EXPERIMENT_NAME: 'bench-theirs' };
  timeRun(process.execPath, [hook], { input, env: oursEnv }); // creates the experiment
  timeRun(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook'], { input, env: theirsEnv, cwd: dir });
  const ours = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input, env: oursEnv }));
  const theirs = Array.from({ length: Math.max(3, Math.ceil(runs / 3)) }, () =>
    timeRun(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook'], { input, env: theirsEnv, cwd: dir }),
  );
  const [mo, mt] = [median(ours), median(theirs)];
  console.log(`P1 hook latency, ${summary.turns}-turn transcript (${(summary.bytes / 1e6).toFixed(1)} MB), median:`);
  console.log(`   ours ${fmt(mo)} (n=${ours.length})   MLflow Python hook ${fmt(mt)} (n=${theirs.length})   ratio ${(mt / mo).toFixed(1)}x faster   goal: >=10x and <=250 ms`);

  // P4
  const help = Array.from({ length: runs }, () => timeRun(process.execPath, [cli, '--help']));
  const bare = Array.from({ length: runs }, () => timeRun(process.execPath, ['-e', '0']));
  const [mh, mb] = [median(help), median(bare)];
  console.log(`P4 --help cold start, median: claude-mlflow --help ${fmt(mh)}   node -e 0 ${fmt(mb)}   ratio ${(mh / mb).toFixed(2)}x`);

  // P5
  if (!skipP5) {
    const big = path.join(dir, 'big.jsonl');
    const bigSummary = generateTranscript(big, { megabytes: 100 });
    const bigInput = stdinFor(big, 'bench-big');
    writeFileSync(path.join(dir, 'big-stdin.json'), bigInput);
    const rssOurs = peakRssMb(process.execPath, [hook], { input: bigInput, env: oursEnv });
    const rssTheirs = peakRssMb(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook'], { input: bigInput, env: theirsEnv, cwd: dir });
    console.log(`P5 peak RSS on a ${(bigSummary.bytes / 1e6).toFixed(0)} MB transcript: ours ${rssOurs?.toFixed(0)} MB   MLflow Python hook ${rssTheirs?.toFixed(0)} MB   ratio ${(rssTheirs / rssOurs).toFixed(1)}x less   goal: <=150 MB`);
  }
} finally {
  server.stop();
}
