/**
 * The delivery process's loop, in process, against a real MLflow server:
 * one at a time per data folder, retries while the server is down, gives up
 * after its window, and records what happened for doctor and status.
 */
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSpoolFiles } from '../../../src/adapters/spool.js';
import { deliveryLockFile, deliveryState, readDeliveryRecord } from '../../../src/services/delivery/state.js';
import { backoffMs, runDeliveryWorker, WORKER_TIMING } from '../../../src/services/delivery/worker.js';
import { startMlflowServer, searchTraces, type MlflowServer } from '../../helpers/mlflow-server.js';
import { freePort } from '../../helpers/ports.js';
import { spoolSample } from '../../helpers/spooled-sample.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

let tmp: TempDir;
let server: MlflowServer;
beforeAll(async () => {
  tmp = await makeTempDir();
  server = await startMlflowServer();
});
afterAll(async () => {
  await server?.stop();
  await tmp?.cleanup();
});

const session = (n: number): string => `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`;
const FAST = { firstBackoffMs: 20, maxBackoffMs: 100, perTraceMs: 5_000 };

function logger() {
  const lines: string[] = [];
  return { lines, log: (level: string, message: string) => void lines.push(`${level} ${message}`) };
}

describe('backoffMs', () => {
  it('starts at 250 ms and doubles up to 8 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffMs(n))).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(WORKER_TIMING.retryWindowMs).toBe(15 * 60_000);
  });

  it('keeps retrying through a 10-minute outage, never more than 30 s apart (the longest pause plus one attempt that hangs)', () => {
    const outageMs = 10 * 60_000;
    expect(WORKER_TIMING.retryWindowMs).toBeGreaterThan(outageMs);
    expect(WORKER_TIMING.maxLifeMs).toBeGreaterThan(outageMs);
    expect(backoffMs(Number.MAX_SAFE_INTEGER) + WORKER_TIMING.perTraceMs).toBeLessThanOrEqual(30_000);
  });
});

describe('runDeliveryWorker', () => {
  it('delivers the spool oldest first, exits on an empty spool, and records the success', async () => {
    const spool = path.join(tmp.path, 'a', 'spool');
    const target = { trackingUri: server.url, experiment: { name: 'worker-a' } };
    for (let n = 1; n <= 3; n++) spoolSample(spool, session(n), target, new Date(Date.now() - (10 - n) * 1000));
    const { log, lines } = logger();
    const outcome = await runDeliveryWorker({ spoolDir: spool, env: {}, log, timing: FAST });
    expect(outcome).toEqual({ status: 'done', delivered: 3, left: 0, reason: 'empty' });
    expect(lines).toEqual([]);
    expect(listSpoolFiles(spool)).toEqual([]);
    expect(existsSync(deliveryLockFile(spool))).toBe(false);
    expect(readDeliveryRecord(spool).lastSuccessAt).toBeGreaterThan(Date.now() - 60_000);
    const traces = await searchTraces(server, 'worker-a');
    expect(traces.map((t) => t.info.trace_metadata['mlflow.trace.session']).sort()).toEqual([1, 2, 3].map(session));
    for (const t of traces) expect(t.spans.length).toBeGreaterThan(1);
  });

  it('exits at once when a live process holds the lock, and takes over from a dead one', async () => {
    const spool = path.join(tmp.path, 'b', 'spool');
    spoolSample(spool, session(10), { trackingUri: server.url, experiment: { name: 'worker-b' } });
    const holder = execa(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
    writeFileSync(deliveryLockFile(spool), `${holder.pid}\n${hostname()}\n`);
    const { log } = logger();
    expect(await runDeliveryWorker({ spoolDir: spool, env: {}, log, timing: FAST })).toEqual({ status: 'busy' });
    expect(deliveryState(spool)).toMatchObject({ runningPid: holder.pid, waiting: 1 });
    expect(listSpoolFiles(spool)).toHaveLength(1);
    holder.kill('SIGKILL');
    await holder;
    expect(await runDeliveryWorker({ spoolDir: spool, env: {}, log, timing: FAST })).toMatchObject({
      status: 'done',
      delivered: 1,
      left: 0,
    });
  });

  it('retries while the server is down and delivers once it answers, logging the failure once', async () => {
    const port = await freePort();
    const spool = path.join(tmp.path, 'c', 'spool');
    spoolSample(spool, session(20), { trackingUri: `http://127.0.0.1:${port}`, experiment: { name: 'worker-c' } });
    const { log, lines } = logger();
    const working = runDeliveryWorker({ spoolDir: spool, env: {}, log, timing: { ...FAST, maxBackoffMs: 300 } });
    // Several passes fail against the closed port while the worker holds the lock.
    while (!readDeliveryRecord(spool).lastFailureAt) await new Promise((r) => setTimeout(r, 20));
    expect(deliveryState(spool).runningPid).toBe(process.pid);
    const late = await startMlflowServer({ port });
    try {
      expect(await working).toMatchObject({ status: 'done', delivered: 1, left: 0, reason: 'empty' });
      expect(lines.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(1);
      expect(lines[0]).toMatch(/^error delivery failed, 1 trace\(s\) wait in the spool: .*ECONNREFUSED/);
      const record = readDeliveryRecord(spool);
      expect(record.lastSuccessAt).toBeGreaterThanOrEqual(record.lastFailureAt!);
      expect((await searchTraces(late, 'worker-c')).map((t) => t.info.trace_metadata['mlflow.trace.session'])).toEqual([session(20)]);
    } finally {
      await late.stop();
    }
  });

  it('gives up when the newest waiting trace has waited past the retry window, keeping the spool', async () => {
    const port = await freePort();
    const spool = path.join(tmp.path, 'd', 'spool');
    spoolSample(
      spool,
      session(30),
      { trackingUri: `http://127.0.0.1:${port}`, experiment: { name: 'worker-d' } },
      new Date(Date.now() - 5_000),
    );
    const { log, lines } = logger();
    const outcome = await runDeliveryWorker({ spoolDir: spool, env: {}, log, timing: { ...FAST, retryWindowMs: 1_000 } });
    expect(outcome).toEqual({ status: 'done', delivered: 0, left: 1, reason: 'gave-up' });
    expect(listSpoolFiles(spool)).toHaveLength(1);
    expect(existsSync(deliveryLockFile(spool))).toBe(false);
    expect(lines.at(-1)).toMatch(
      /^warn delivery gave up for now: .*1 wait in the spool for the next session, claude-mlflow flush or server start$/,
    );
  });

  it('does not retry a trace refused for a reason time does not fix (404: no such experiment), and keeps it', async () => {
    const spool = path.join(tmp.path, 'e', 'spool');
    spoolSample(spool, session(40), { trackingUri: server.url, experiment: { id: '987654' } });
    const { log, lines } = logger();
    const outcome = await runDeliveryWorker({ spoolDir: spool, env: {}, log, timing: FAST });
    expect(outcome).toEqual({ status: 'done', delivered: 0, left: 1, reason: 'waiting' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error delivery failed, 1 trace\(s\) wait in the spool: POST \/v1\/traces → HTTP 404: /);
    expect(readFileSync(listSpoolFiles(spool)[0]!, 'utf8')).toContain(session(40));
  });
});
