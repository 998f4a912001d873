/**
 * Bad input never breaks Claude Code: each case exits 0, prints nothing to
 * stdout, writes one log line, and spools what can still be delivered. What
 * goes wrong in delivery is logged by the delivery process the hook starts.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryProcesses, stopDelivery, waitForSpoolEmpty } from '../helpers/delivery.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { searchTraces } from '../helpers/mlflow-server.js';
import { useServerAndTmp } from '../helpers/server-and-tmp.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { sampleStopInput, sampleWithSession } from '../helpers/fixtures.js';
import { distCli } from '../helpers/venv.js';

const shared = useServerAndTmp();
let failing: http.Server;
let failingUrl: string;
let failingHits = 0;
let counter = 0;

beforeAll(async () => {
  failing = http.createServer((req, res) => {
    failingHits += 1;
    req.resume();
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"error_code":"INTERNAL_ERROR"}');
  });
  await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
  failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
});
afterAll(() => {
  failing?.close();
});

function caseDir(): { dir: string; data: string } {
  counter += 1;
  const dir = path.join(shared.tmp.path, `case-${counter}`);
  mkdirSync(dir);
  return { dir, data: path.join(dir, 'data') };
}

function env(data: string, extra: Record<string, string> = {}): Record<string, string> {
  return makeHookEnv({ home: shared.tmp.path, dataRoot: data, trackingUri: shared.server.url, experiment: 'bad-input' }, extra);
}

function logLines(data: string): string[] {
  return readFileSync(path.join(data, 'logs', 'hook.log'), 'utf8')
    .trim()
    .split('\n');
}

function spooled(data: string): string[] {
  try {
    return readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json'));
  } catch {
    return [];
  }
}

/** Poll `check` until it holds; fails with `what` after `timeoutMs`. */
async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait for a line of hook.log matching `pattern` (the delivery process writes it after the hook has exited). */
async function waitForLogLine(data: string, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const matches = (): boolean => {
    try {
      return logLines(data).some((line) => pattern.test(line));
    } catch {
      return false;
    }
  };
  await waitUntil(matches, timeoutMs, `a line matching ${pattern} in hook.log`);
}

async function expectQuietExit(stdin: string, e: Record<string, string>) {
  const result = await runHookProcess(stdin, e);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toBe('');
  expect(result.wallMs).toBeLessThan(2000);
  return result;
}

describe('bad input', () => {
  it('a missing transcript: left to the delivery process, which names it once its wait is over; nothing spooled', async () => {
    const { dir, data } = caseDir();
    const { stdin } = sampleStopInput(dir, { transcript_path: path.join(dir, 'gone.jsonl') });
    await expectQuietExit(stdin, env(data));
    const lines = logLines(data);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/info not there yet \(transcript not found: .*gone\.jsonl\): the delivery process traces the turn once it is/);
    // It never comes: the delivery process gives the turn up once the record is old enough, and exits.
    await waitForSpoolEmpty(data, 30_000);
    expect(logLines(data).at(-1)).toMatch(
      /error a turn a hook left to the delivery process cannot be traced: transcript not found: .*gone\.jsonl/,
    );
    expect(spooled(data)).toEqual([]);
  });

  it('a transcript written only after the hook has exited: traced by the delivery process as soon as it is there', async () => {
    const { dir, data } = caseDir();
    const session = '00000000-0000-4000-a000-0000000001a7';
    const { stdin, transcript } = sampleWithSession(dir, session);
    const text = readFileSync(transcript, 'utf8');
    renameSync(transcript, `${transcript}.later`);
    await expectQuietExit(stdin, env(data));
    expect(logLines(data)).toEqual([expect.stringMatching(/info not there yet \(transcript not found: /)]);
    // Claude Code's first write of the transcript comes late (a busy machine).
    writeFileSync(transcript, text);
    await waitForSpoolEmpty(data, 30_000);
    const traces = await searchTraces(shared.server, 'bad-input');
    const ours = traces.filter((t) => t.info.trace_metadata['mlflow.trace.session'] === session);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.spans.length).toBeGreaterThan(1);
    expect(logLines(data)).toHaveLength(1);
  });

  it('an unreadable transcript: logged, no crash', async () => {
    if (process.getuid?.() === 0) {
      // root reads anything: make the path a directory instead, which no one can read as a file.
      const { dir, data } = caseDir();
      mkdirSync(path.join(dir, 'dir.jsonl'));
      const { stdin } = sampleStopInput(dir, { transcript_path: path.join(dir, 'dir.jsonl') });
      await expectQuietExit(stdin, env(data));
      expect(logLines(data)[0]).toMatch(
        /error transcript is not a regular file \(a FIFO, a device or a folder\), so it is not read: .*dir\.jsonl/,
      );
      return;
    }
    const { dir, data } = caseDir();
    const { stdin, transcript } = sampleStopInput(dir);
    chmodSync(transcript, 0o000);
    await expectQuietExit(stdin, env(data));
    expect(logLines(data)[0]).toMatch(/error transcript unreadable: .*EACCES/);
  });

  it.each([
    [
      'a FIFO, which would block a reader for ever',
      (dir: string) => {
        const fifo = path.join(dir, 'fifo.jsonl');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      },
    ],
    ['/dev/zero, which never ends', () => '/dev/zero'],
  ])('a transcript path that is %s: not read; the hook exits at once and leaves nothing behind', async (_label, make) => {
    const { dir, data } = caseDir();
    const { stdin } = sampleStopInput(dir, { transcript_path: make(dir) });
    const result = await expectQuietExit(stdin, env(data));
    expect(result.stderr).toBe('');
    expect(logLines(data)).toEqual([
      expect.stringMatching(/error transcript is not a regular file \(a FIFO, a device or a folder\), so it is not read: /),
    ]);
    expect(spooled(data)).toEqual([]);
    expect(existsSync(path.join(data, 'spool', 'pending')) ? readdirSync(path.join(data, 'spool', 'pending')) : []).toEqual([]);
    expect(deliveryProcesses(data)).toEqual([]);
  });

  it('garbage lines are skipped and the turn is still traced', async () => {
    const { dir, data } = caseDir();
    const { stdin, transcript } = sampleWithSession(dir, '11111111-0000-4000-8000-000000000001');
    const rows = readFileSync(transcript, 'utf8').split('\n');
    rows.splice(3, 0, '{not json', '[1,2]', '\u0000\u0001 binary', '"a string"');
    writeFileSync(transcript, rows.join('\n'));
    await expectQuietExit(stdin, env(data));
    await waitForSpoolEmpty(data);
    const traces = await searchTraces(shared.server, 'bad-input');
    const found = traces.find((t) => t.info.trace_metadata['mlflow.trace.session'] === '11111111-0000-4000-8000-000000000001');
    expect(found?.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
  });

  it('an empty stdin and a non-JSON stdin are logged', async () => {
    const { data } = caseDir();
    await expectQuietExit('', env(data));
    await expectQuietExit('this is not json', env(data));
    const lines = logLines(data);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/hook input unreadable: empty stdin/);
    expect(lines[1]).toMatch(/hook input unreadable/);
  });

  it('a wrong experiment id: logged and spooled, and flush keeps it without blocking the others', async () => {
    const { dir, data } = caseDir();
    const { stdin } = sampleWithSession(dir, '11111111-0000-4000-8000-000000000002');
    await expectQuietExit(stdin, env(data, { MLFLOW_EXPERIMENT_ID: '987654321' }));
    await waitForLogLine(data, /error delivery failed, 1 trace\(s\) wait in the spool: .*HTTP 404/);
    // A 404 is not retried: the delivery process leaves it in the spool and exits.
    await waitUntil(() => deliveryProcesses(data).length === 0, 30_000, 'the delivery process to exit');
    expect(logLines(data)).toHaveLength(1);
    expect(spooled(data)).toHaveLength(1);

    // A good trace queued behind it (same server, a real experiment) is still delivered.
    const [first] = spooled(data);
    const record = JSON.parse(readFileSync(path.join(data, 'spool', first!), 'utf8'));
    record.target.experiment = { name: 'bad-input' };
    record.trace.traceId = 'f'.repeat(32);
    writeFileSync(path.join(data, 'spool', `9${first!.slice(1, 15)}-${'f'.repeat(32)}.trace.json`), JSON.stringify(record));
    const flush = await execa(process.execPath, [distCli, 'flush', '--json'], { env: env(data), extendEnv: false, reject: false });
    expect(JSON.parse(String(flush.stdout))).toMatchObject({ waiting: 2, delivered: 1, remaining: 1 });
    expect(flush.exitCode).toBe(1);
    expect(spooled(data)).toEqual([first]);
    const traces = await searchTraces(shared.server, 'bad-input');
    expect(traces.map((t) => t.info.trace_id)).toContain(`tr-${'f'.repeat(32)}`);
  });

  it('a server answering 500: logged and spooled, then delivered once a good server takes it', async () => {
    const { dir, data } = caseDir();
    const { stdin } = sampleWithSession(dir, '11111111-0000-4000-8000-000000000004');
    const hitsBefore = failingHits;
    try {
      await expectQuietExit(stdin, env(data, { MLFLOW_TRACKING_URI: failingUrl }));
      // The delivery process retries with backoff: a few attempts, one log line for them all.
      await waitUntil(() => failingHits >= hitsBefore + 3, 30_000, 'three attempts at the failing server').catch((error: Error) => {
        throw new Error(
          `${error.message}: ${failingHits - hitsBefore} seen; delivery processes ${deliveryProcesses(data)}; hook.log:\n${logLines(data).join('\n')}`,
        );
      });
      const lines = logLines(data);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/error delivery failed, 1 trace\(s\) wait in the spool: .*HTTP 500/);
      expect(spooled(data)).toHaveLength(1);
    } finally {
      await stopDelivery(data);
    }
  });

  it('a server refusing a trace for good moves it aside, so it does not hold up the rest', async () => {
    const { dir, data } = caseDir();
    const refusing = http.createServer((req, res) => {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error_code":"INVALID_PARAMETER_VALUE"}');
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
    try {
      const { stdin } = sampleWithSession(dir, '11111111-0000-4000-8000-000000000005');
      await expectQuietExit(stdin, env(data, { MLFLOW_TRACKING_URI: url }));
      // The delivery process moves it aside, logs why, and exits.
      const rejectedDir = path.join(data, 'spool', 'rejected');
      const rejected = (): string[] => {
        try {
          return readdirSync(rejectedDir);
        } catch {
          return [];
        }
      };
      await waitUntil(() => rejected().length === 1, 30_000, 'the trace in spool/rejected');
      await waitUntil(() => deliveryProcesses(data).length === 0, 30_000, 'the delivery process to exit');
      expect(spooled(data)).toHaveLength(0);
      expect(logLines(data)).toHaveLength(1);
      expect(logLines(data)[0]).toMatch(/error the server refused 1 trace\(s\) for good; moved to .*\/spool\/rejected: .*HTTP 400/);

      // flush does the same with one it finds in the spool.
      renameSync(path.join(rejectedDir, rejected()[0]!), path.join(data, 'spool', rejected()[0]!));
      expect(spooled(data)).toHaveLength(1);
      const flush = await execa(process.execPath, [distCli, 'flush', '--json'], { env: env(data), extendEnv: false, reject: false });
      const result = JSON.parse(String(flush.stdout));
      expect(result.rejected).toHaveLength(1);
      expect(spooled(data)).toHaveLength(0);
      expect(readdirSync(rejectedDir)).toHaveLength(1);
    } finally {
      refusing.close();
      await stopDelivery(data);
    }
  });
});
