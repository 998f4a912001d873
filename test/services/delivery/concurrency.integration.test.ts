/**
 * 100 Stop hooks at once, as the built runtime runs under Claude Code,
 * against a live server, a stopped one (started afterwards) and one
 * restarted just before: exactly 100 traces, an empty spool, and never more
 * than one delivery process at work: talking to the server (its connections
 * sampled from /proc all along). Afterwards no delivery process is left,
 * running or as a zombie.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectedTo,
  deliveryProcesses,
  pendingFiles,
  spoolFiles,
  stillInProcessTable,
  stopDelivery,
  waitForSpoolEmpty,
} from '../../helpers/delivery.js';
import { makeHookEnv } from '../../helpers/hook-env.js';
import { sampleWithSession } from '../../helpers/fixtures.js';
import { startMlflowServer, type MlflowServer } from '../../helpers/mlflow-server.js';
import { freePort } from '../../helpers/ports.js';
import { runHookProcess } from '../../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { listedTraces } from '../../helpers/trace-visibility.js';

const HOOKS = 100;

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  for (const label of ['live', 'stopped', 'restarted']) await stopDelivery(path.join(tmp.path, label));
  await tmp?.cleanup();
});

/** Sample the delivery processes of a data folder until stopped: the most seen talking to the server at once, and how many there were. */
function sampleDelivery(dataRoot: string, port: number) {
  let mostAtWork = 0;
  const seen = new Set<number>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const pids = deliveryProcesses(dataRoot);
      for (const pid of pids) seen.add(pid);
      mostAtWork = Math.max(mostAtWork, connectedTo(pids, port).length);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { mostAtWork, started: seen.size, seen };
    },
  };
}

async function hundredHooks(label: string, url: string) {
  const data = path.join(tmp.path, label);
  const env = makeHookEnv({ home: tmp.path, dataRoot: data, trackingUri: url, experiment: `hundred-${label}` });
  const inputs = Array.from({ length: HOOKS }, (_, i) =>
    sampleWithSession(tmp.path, `00000000-0000-4000-b${label.length}00-${String(i).padStart(12, '0')}`),
  );
  const sampler = sampleDelivery(data, Number(new URL(url).port));
  const results = await Promise.all(inputs.map(({ stdin }) => runHookProcess(stdin, env)));
  for (const r of results) {
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
  }
  return { data, sampler };
}

async function expectHundredDelivered(server: MlflowServer, label: string, data: string, sampler: ReturnType<typeof sampleDelivery>) {
  await waitForSpoolEmpty(data, 120_000);
  // The last process lets go of the lock and exits.
  const until = Date.now() + 10_000;
  while (deliveryProcesses(data).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const { mostAtWork, started, seen } = await sampler.stop();
  expect(deliveryProcesses(data)).toEqual([]);
  // Nothing left running, and no zombie: every delivery process seen has left the process table (its parent, init, reaps it).
  const reapedBy = Date.now() + 10_000;
  while (stillInProcessTable(seen).length > 0 && Date.now() < reapedBy) await new Promise((r) => setTimeout(r, 50));
  expect(stillInProcessTable(seen)).toEqual([]);
  expect(mostAtWork).toBe(1);
  expect(started).toBeGreaterThanOrEqual(1);
  const listed = await listedTraces(server.url, `hundred-${label}`);
  expect(listed).toHaveLength(HOOKS);
  expect(new Set(listed.map((t) => t.session)).size).toBe(HOOKS);
  for (const t of listed) expect(t.spans).toBe(4);
  expect(spoolFiles(data)).toEqual([]);
  expect(pendingFiles(data)).toEqual([]);
  console.log(`100 hooks (${label}): ${started} delivery process(es) started, at most ${mostAtWork} at work at once`);
}

describe('100 Stop hooks at once', () => {
  it('against a live server', async () => {
    const server = await startMlflowServer();
    try {
      const { data, sampler } = await hundredHooks('live', server.url);
      await expectHundredDelivered(server, 'live', data, sampler);
    } finally {
      await server.stop();
    }
  });

  it('against a stopped server, started afterwards', async () => {
    const port = await freePort();
    const { data, sampler } = await hundredHooks('stopped', `http://127.0.0.1:${port}`);
    // Every turn is in the spool, or written ahead for the delivery process to build (a hook its cap stopped).
    expect(spoolFiles(data).length + pendingFiles(data).length).toBe(HOOKS);
    const server = await startMlflowServer({ port });
    try {
      await expectHundredDelivered(server, 'stopped', data, sampler);
    } finally {
      await server.stop();
    }
  });

  it('against a server restarted just before', async () => {
    const first = await startMlflowServer();
    const port = first.port;
    const dir = first.dir;
    await first.stop();
    const server = await startMlflowServer({ port, dir });
    try {
      const { data, sampler } = await hundredHooks('restarted', server.url);
      await expectHundredDelivered(server, 'restarted', data, sampler);
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  });
});
