#!/usr/bin/env node
/**
 * Benchmarks, side by side against the reference, printed as ratios.
 *   P1  hook cold-process latency to "trace accepted" on a 50-turn transcript,
 *       ours vs MLflow's Python hook (`mlflow autolog claude stop-hook`), same server.
 *   P4  `claude-mlflow --help` cold start vs `node -e 0`.
 *   P5  peak RSS of the hook on a 100 MB transcript, ours vs MLflow's Python hook;
 *       and on one turn of 1,000 tool calls of 10 KB: time, peak RSS and the
 *       bytes of the trace stored, ours vs MLflow's Python hook.
 * Needs `npm run build` and the test venv (scripts/setup-test-venv.sh).
 * Usage: node bench/run.mjs [--runs N] [--skip-p5]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateLongTurn } from './gen-long-turn.mjs';
import { appendSubagentTurn } from './gen-subagents.mjs';
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

/**
 * The hook input Claude Code gives: with the last assistant message, which the hook checks the transcript against.
 * @param {string} transcript
 * @param {string} sessionId
 */
function stdinFor(transcript, sessionId) {
  const rows = readFileSync(transcript, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  /** @typedef {{ type: string, text: string }} Block */
  const last = rows.findLast((r) => r.type === 'assistant' && r.message?.content?.some?.((/** @type {Block} */ b) => b.type === 'text'));
  const lastMessage = last?.message.content
    .filter((/** @type {Block} */ b) => b.type === 'text')
    .map((/** @type {Block} */ b) => b.text)
    .join('\n')
    .trim();
  return JSON.stringify({
    session_id: sessionId,
    transcript_path: transcript,
    cwd: dir,
    hook_event_name: 'Stop',
    last_assistant_message: lastMessage,
  });
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
  console.log(
    `   ours ${fmt(mo)} (n=${ours.length})   MLflow Python hook ${fmt(mt)} (n=${theirs.length})   ratio ${(mt / mo).toFixed(1)}x faster   goal: >=10x and <=250 ms`,
  );
  // The same, in a git repository of 300 tracked files: the git context on the trace costs this much.
  const repo = gitRepo(path.join(dir, 'repo'), 300);
  const inRepo = JSON.stringify({ ...JSON.parse(input), cwd: repo });
  const withGit = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input: inRepo, env: oursEnv }));
  console.log(
    `   ours in a git repository of 300 files ${fmt(median(withGit))} (n=${withGit.length})   +${(median(withGit) - mo).toFixed(0)} ms for the git context   goal: <=10 ms`,
  );
  // Redaction off (config.json), for its cost: the same transcript, another data folder.
  const offData = path.join(dir, 'data-redaction-off');
  mkdirSync(offData, { recursive: true });
  writeFileSync(path.join(offData, 'config.json'), JSON.stringify({ redaction: { enabled: false } }));
  const offEnv = { ...oursEnv, CLAUDE_MLFLOW_HOME: offData };
  timeRun(process.execPath, [hook], { input, env: offEnv });
  const off = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input, env: offEnv }));
  const on = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input, env: oursEnv }));
  console.log(
    `   redaction on ${fmt(median(on))}, off ${fmt(median(off))} (n=${runs} each): +${(median(on) - median(off)).toFixed(0)} ms   goal: <=15 ms`,
  );
  const big = bigOutputTurn(path.join(dir, 'big-output.jsonl'));
  const bigOn = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input: big, env: oursEnv }));
  const bigOff = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input: big, env: offEnv }));
  console.log(`   a turn with a 5 MB tool output: redaction on ${fmt(median(bigOn))}, off ${fmt(median(bigOff))}`);
  // The same 50 turns, then a turn that runs 10 foreground subagents (4 Read calls of 10 KB each): nested in its trace.
  const fan = path.join(dir, 'fan-out', `${summary.sessionId}.jsonl`);
  mkdirSync(path.dirname(fan), { recursive: true });
  writeFileSync(fan, readFileSync(t50));
  const fanInput = appendSubagentTurn(fan, summary.sessionId, { agents: 10, callsPerAgent: 4 });
  const withAgents = Array.from({ length: runs }, () => timeRun(process.execPath, [hook], { input: fanInput, env: oursEnv }));
  const fanRss = peakRssMb(process.execPath, [hook], { input: fanInput, env: oursEnv });
  console.log(
    `P1 with 10 subagents nested (50 turns + 1): ours ${fmt(median(withAgents))} (n=${withAgents.length})   P5 peak RSS ${fanRss?.toFixed(0)} MB`,
  );

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
    console.log(
      `P5 peak RSS on a ${(bigSummary.bytes / 1e6).toFixed(0)} MB transcript: ours ${rssOurs?.toFixed(0)} MB   MLflow Python hook ${rssTheirs?.toFixed(0)} MB   ratio ${(Number(rssTheirs) / Number(rssOurs)).toFixed(1)}x less   goal: <=150 MB`,
    );
    longTurn();
  }
} finally {
  server.stop();
}

/**
 * One turn whose Read result is 5 MB of ordinary text; the hook's stdin for it.
 * @param {string} file
 */
function bigOutputTurn(file) {
  const text = Array.from({ length: 80_000 }, (_, i) => `line ${i}: const value${i} = compute(${i}); // ordinary output`).join('\n');
  const at = (/** @type {number} */ s) => `2026-11-30T10:00:0${s}.000Z`;
  const usage = { input_tokens: 1, output_tokens: 1 };
  const rows = [
    { type: 'user', uuid: 'p', sessionId: 'big', timestamp: at(0), message: { role: 'user', content: 'read the log' } },
    {
      type: 'assistant',
      uuid: 'a',
      sessionId: 'big',
      timestamp: at(1),
      message: {
        id: 'm1',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'tool_use', id: 't1', name: 'Read', input: { file_path: '/p/big.log' } }],
        usage,
      },
    },
    {
      type: 'user',
      uuid: 'r',
      sessionId: 'big',
      timestamp: at(2),
      message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: text }] },
    },
    {
      type: 'assistant',
      uuid: 'f',
      sessionId: 'big',
      timestamp: at(3),
      message: { id: 'm2', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'read it' }], usage },
    },
  ];
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return JSON.stringify({ session_id: 'big', transcript_path: file, cwd: dir, hook_event_name: 'Stop', last_assistant_message: 'read it' });
}

/**
 * A git repository with `files` tracked files, committed, and a clean tree.
 * @param {string} repo
 * @param {number} files
 */
function gitRepo(repo, files) {
  mkdirSync(path.join(repo, 'src'), { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(path.join(repo, 'src', `f${i}.ts`), `export const f${i} = ${i};\n`);
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@example.com',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@example.com',
  };
  for (const args of [
    ['init', '-q', '-b', 'main'],
    ['add', '.'],
    ['commit', '-q', '-m', 'bench'],
  ])
    execFileSync('git', args, { cwd: repo, env });
  return repo;
}

/** P5 on one turn of 1,000 tool calls of 10 KB: ours spools it (the stored trace is that file); MLflow's hook sends it. */
function longTurn() {
  const turn = path.join(dir, 'long-turn.jsonl');
  const input = generateLongTurn(turn, { cwd: dir });
  const turnMb = statSync(turn).size / 1e6;
  const data = path.join(dir, 'long-data');
  // Nothing listens on port 9: the trace stays in the spool, where its size is read.
  const env = { ...baseEnv, CLAUDE_MLFLOW_HOME: data, MLFLOW_TRACKING_URI: 'http://127.0.0.1:9', MLFLOW_EXPERIMENT_NAME: 'bench-long' };
  const ms = timeRun(process.execPath, [hook], { input, env });
  const spool = path.join(data, 'spool');
  const storedMb =
    readdirSync(spool)
      .filter((f) => f.endsWith('.trace.json'))
      .reduce((sum, f) => sum + statSync(path.join(spool, f)).size, 0) / 1e6;
  const rss = peakRssMb(process.execPath, [hook], { input, env });
  const theirsEnv = { ...baseEnv, MLFLOW_EXPERIMENT_NAME: 'bench-long-theirs' };
  let theirs = 'failed';
  try {
    const theirMs = timeRun(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook'], { input, env: theirsEnv, cwd: dir });
    const theirRss = peakRssMb(venvBin('mlflow'), ['autolog', 'claude', 'stop-hook'], { input, env: theirsEnv, cwd: dir });
    theirs = `${fmt(theirMs)}, peak RSS ${theirRss?.toFixed(0)} MB`;
  } catch (/** @type {any} */ error) {
    theirs = `failed (${String(error.message).split('\n')[0].slice(0, 120)})`;
  }
  console.log(
    `P5 1,000-call turn (${turnMb.toFixed(1)} MB): ours ${fmt(ms)}, peak RSS ${rss?.toFixed(0)} MB, stored ${storedMb.toFixed(1)} MB (${(storedMb / turnMb).toFixed(2)}x the turn)   MLflow Python hook ${theirs}   goal: within the hook's cap, <=150 MB, ~2x`,
  );
}
