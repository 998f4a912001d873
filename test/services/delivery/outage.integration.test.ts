/**
 * A session that ended while the server was down is visible within 30 s of
 * the server answering /health again, by itself: no further session, no
 * `flush`, no `server start` of ours. The server here is started by the test,
 * as a user or a supervisor would, only once the delivery process has backed
 * off to its longest pause, which is where it stays for the rest of an outage
 * (up to its 15-minute retry window, see worker.test.ts).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_TIMING } from '../../../src/services/delivery/worker.js';
import { deliveryPid, deliveryProcesses, pendingFiles, spoolFiles, stopDelivery, waitForSpoolEmpty } from '../../helpers/delivery.js';
import { sampleWithSession } from '../../helpers/fixtures.js';
import { makeHookEnv } from '../../helpers/hook-env.js';
import { startMlflowServer } from '../../helpers/mlflow-server.js';
import { freePort } from '../../helpers/ports.js';
import { runHookProcess } from '../../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { listedTraces, watchForHalfWrittenTraces } from '../../helpers/trace-visibility.js';

const SESSION = '00000000-0000-4000-a000-00000000beef';
const EXPERIMENT = 'outage';

/** The sum of the pauses before the delivery process reaches its longest one: 250 ms + 500 ms + … + 4 s. */
function timeToLongestPause(): number {
  let total = 0;
  for (let pause = WORKER_TIMING.firstBackoffMs; pause < WORKER_TIMING.maxBackoffMs; pause *= 2) total += pause;
  return total;
}

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await stopDelivery(path.join(tmp.path, 'data'));
  await tmp?.cleanup();
});

describe('a session that ended while the server was down', () => {
  it('is listed with its spans within 30 s of the server answering again, with nothing but the delivery process at work', async () => {
    const data = path.join(tmp.path, 'data');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = makeHookEnv({ home: tmp.path, dataRoot: data, trackingUri: url, experiment: EXPERIMENT });

    const hook = await runHookProcess(sampleWithSession(tmp.path, SESSION).stdin, env);
    expect(hook.exitCode).toBe(0);
    expect(hook.stdout).toBe('');
    expect(spoolFiles(data).length + pendingFiles(data).length).toBe(1);

    // Past the backoff's growth, plus one longest pause: the process now tries every 8 s.
    await new Promise((r) => setTimeout(r, timeToLongestPause() + WORKER_TIMING.maxBackoffMs));
    const worker = deliveryPid(data);
    expect(worker, 'a delivery process still retrying').toBeDefined();
    expect(spoolFiles(data)).toHaveLength(1);

    const server = await startMlflowServer({ port });
    const answeredAt = performance.now();
    const watcher = watchForHalfWrittenTraces(url, EXPERIMENT, 250);
    try {
      let visibleMs: number | undefined;
      const delivering = new Set<number>();
      while (visibleMs === undefined && performance.now() - answeredAt < 60_000) {
        for (const pid of deliveryProcesses(data)) delivering.add(pid);
        const listed = await listedTraces(url, EXPERIMENT).catch(() => []);
        if (listed.some((t) => t.session === SESSION && t.spans > 0)) visibleMs = performance.now() - answeredAt;
        else await new Promise((r) => setTimeout(r, 250));
      }
      console.log(`after an outage, server started by someone else: visible ${Math.round(visibleMs ?? -1)} ms after /health answered`);
      expect(visibleMs, 'never listed with its spans').toBeDefined();
      expect(visibleMs!).toBeLessThanOrEqual(30_000);
      await waitForSpoolEmpty(data, 10_000);
      await watcher.stop();
      expect(watcher.halfWritten, 'a listed trace had no loadable spans').toEqual([]);
      expect(await listedTraces(url, EXPERIMENT)).toEqual([expect.objectContaining({ session: SESSION, spans: 4 })]);
      // The process that was retrying delivered it (no other was started), and then exited.
      expect([...delivering]).toEqual([worker]);
      const until = Date.now() + 10_000;
      while (deliveryProcesses(data).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(deliveryProcesses(data)).toEqual([]);
    } finally {
      await watcher.stop();
      await server.stop();
    }
  });
});
