/**
 * Delivery end to end, through what `init` sets up: the real Claude Code CLI
 * runs the hook command init wrote into the project's .claude/settings.json,
 * the hook spools the trace, and the detached delivery process sends it to
 * the MLflow server init started.
 *
 * 1. A session right after `init` on a fresh server is listed, with its spans,
 *    within 10 s of `claude -p` exiting.
 * 2. A session while the server is stopped is kept and retried; once
 *    `server start` returns, it is listed with its spans within 30 s, once.
 *
 * In both, a watcher polls what MLflow's UI would show the whole time: a trace
 * must never be listed without its spans.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTranscripts, runClaude } from '../helpers/claude-cli.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { deliveryPid, pendingFiles, spoolFiles, stopDelivery, waitForSpoolEmpty } from '../helpers/delivery.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { searchTracesAt } from '../helpers/mlflow-server.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { listedTraces, watchForHalfWrittenTraces, type ListedTrace } from '../helpers/trace-visibility.js';
import { venvBin } from '../helpers/venv.js';

/** The project folder's name, and so the experiment init picks. */
const EXPERIMENT = 'delivery-app';
const POLL_MS = 250;

let tmp: TempDir;
let fake: FakeAnthropic;
let home: string;
let project: string;
let data: string;
let port: number;
let url: string;
let initialized = false;

beforeAll(async () => {
  tmp = await makeTempDir();
  home = path.join(tmp.path, 'home');
  project = path.join(tmp.path, EXPERIMENT);
  data = path.join(tmp.path, 'data');
  mkdirSync(home);
  mkdirSync(project);
  writeFileSync(path.join(project, 'notes.txt'), 'hello from the delivery test\n');
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // Every session: read notes.txt, then answer.
  fake = await startFakeAnthropic((_req, ctx) =>
    ctx.index % 2 === 0
      ? { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: path.join(project, 'notes.txt') } } }
      : { text: 'notes.txt says: hello from the delivery test' },
  );
});

afterAll(async () => {
  try {
    if (initialized) {
      const stop = await cli(['server', 'stop']);
      if (stop.exitCode !== 0) console.error(`server stop failed: ${stop.stderr}${stop.stdout}`);
    }
  } finally {
    await stopDelivery(data);
    await fake?.close();
    await tmp?.cleanup();
  }
});

function cli(args: string[]): Promise<CliRun> {
  return runCli(args, { cwd: project, home, data });
}

function hookLog(): string {
  try {
    return readFileSync(path.join(data, 'logs', 'hook.log'), 'utf8');
  } catch {
    return '(no hook.log)';
  }
}

/** Run a real `claude -p` session in the project, with the settings init wrote; returns its session id and when it exited. */
async function session(prompt: string): Promise<{ sessionId: string; exitedAt: number }> {
  const before = new Set(await listTranscripts(home, project));
  const run = await runClaude({
    cwd: project,
    home,
    baseUrl: fake.url,
    prompt,
    args: ['--allowedTools', 'Read'],
    env: { CLAUDE_MLFLOW_HOME: data },
  });
  const exitedAt = performance.now();
  expect(run.exitCode, `${run.command}\n${run.stderr}`).toBe(0);
  expect(run.stdout).toContain('hello from the delivery test');
  const added = (await listTranscripts(home, project)).filter((f) => !before.has(f));
  expect(added, 'one new transcript').toHaveLength(1);
  return { sessionId: path.basename(added[0]!, '.jsonl'), exitedAt };
}

/**
 * Poll listedTraces every POLL_MS from `since` until the session's trace is
 * listed with loadable spans (or `giveUpMs` passed); returns how long that took.
 */
async function waitUntilVisible(sessionId: string, since: number, giveUpMs: number): Promise<{ ms: number; trace: ListedTrace }> {
  let lastError: unknown;
  for (;;) {
    try {
      const found = (await listedTraces(url, EXPERIMENT)).find((t) => t.session === sessionId && t.spans > 0);
      if (found) return { ms: Math.round(performance.now() - since), trace: found };
    } catch (error) {
      lastError = error;
    }
    if (performance.now() - since > giveUpMs) {
      throw new Error(
        `session ${sessionId} is not listed with its spans ${giveUpMs} ms on (last error: ${String(lastError)}); ` +
          `spool: ${JSON.stringify(spoolFiles(data))}, pending: ${JSON.stringify(pendingFiles(data))}; hook.log:\n${hookLog()}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The pid of the delivery process that holds this data folder's lock, allowing it a moment to take it. */
async function liveDelivery(withinMs = 5_000): Promise<number | undefined> {
  const until = performance.now() + withinMs;
  for (;;) {
    const pid = deliveryPid(data);
    if (pid !== undefined || performance.now() > until) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('delivery of real sessions to the server init set up', () => {
  it('lists a session run right after init on a fresh server within 10 s, never without its spans', { timeout: 300_000 }, async () => {
    const init = await cli(['init', '--yes', '--no-service', '--port', String(port), '--mlflow', venvBin('mlflow'), '--project', project]);
    initialized = true;
    expect(init.exitCode, init.stderr + init.stdout).toBe(0);
    expect(init.stdout).toContain(`${url}/#/experiments/`);
    // The hook command is the one init wrote, not one of ours.
    const settings = JSON.parse(readFileSync(path.join(project, '.claude', 'settings.json'), 'utf8'));
    expect(settings.hooks.Stop[0].hooks[0].command).toContain('claude-mlflow-hook.mjs');
    expect(settings.env).toMatchObject({ MLFLOW_TRACKING_URI: url, MLFLOW_EXPERIMENT_NAME: EXPERIMENT });

    const watcher = watchForHalfWrittenTraces(url, EXPERIMENT, POLL_MS);
    let visible: { ms: number; trace: ListedTrace };
    let sessionId: string;
    try {
      const ran = await session('read notes.txt');
      sessionId = ran.sessionId;
      visible = await waitUntilVisible(sessionId, ran.exitedAt, 30_000);
      console.log(`fresh server after init: visible after ${visible.ms} ms (claude -p exit → listed with ${visible.trace.spans} spans)`);
    } finally {
      await watcher.stop();
    }
    expect(visible.ms).toBeLessThanOrEqual(10_000);
    expect(watcher.halfWritten, 'a listed trace had no loadable spans').toEqual([]);
    expect(watcher.polls).toBeGreaterThanOrEqual(3);

    // The trace row is the last step of a delivery; removing the spool file follows it.
    await waitForSpoolEmpty(data, 5_000);
    const listed = await listedTraces(url, EXPERIMENT);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ session: sessionId, spans: 4 });
    const [trace] = await searchTracesAt(url, EXPERIMENT);
    expect(trace!.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    expect(trace!.spans[0]!.span_type).toBe('AGENT');
    expect(trace!.info.request_preview).toBe('read notes.txt');
  });

  it('keeps a session run while the server is stopped, and lists it once within 30 s of `server start`', { timeout: 300_000 }, async () => {
    expect(initialized, 'needs the server the first test set up').toBe(true);
    const before = await listedTraces(url, EXPERIMENT);
    const stop = await cli(['server', 'stop']);
    expect(stop.exitCode, stop.stderr + stop.stdout).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();

    const { sessionId } = await session('read notes.txt while the server is down');
    // Nothing lost: the trace waits in the spool, and a delivery process retries it.
    expect(spoolFiles(data).length + pendingFiles(data).length, hookLog()).toBeGreaterThanOrEqual(1);
    expect(await liveDelivery(), `no live delivery process; hook.log:\n${hookLog()}`).toBeDefined();

    const watcher = watchForHalfWrittenTraces(url, EXPERIMENT, POLL_MS);
    let visible: { ms: number; trace: ListedTrace };
    try {
      const start = await cli(['server', 'start']);
      const startedAt = performance.now();
      expect(start.exitCode, start.stderr + start.stdout).toBe(0);
      expect((await fetch(`${url}/health`)).ok).toBe(true);
      visible = await waitUntilVisible(sessionId, startedAt, 30_000);
      console.log(`after an outage: visible after ${visible.ms} ms (server start returned → listed with ${visible.trace.spans} spans)`);
    } finally {
      await watcher.stop();
    }
    expect(visible.ms).toBeLessThanOrEqual(30_000);
    expect(watcher.halfWritten, 'a listed trace had no loadable spans').toEqual([]);
    expect(watcher.polls).toBeGreaterThanOrEqual(1);

    await waitForSpoolEmpty(data, 5_000);
    const listed = await listedTraces(url, EXPERIMENT);
    expect(listed.filter((t) => t.session === sessionId)).toEqual([{ traceId: visible.trace.traceId, session: sessionId, spans: 4 }]);
    expect(listed).toHaveLength(before.length + 1);
  });
});
