/**
 * `cleanup` when the server is down (MLflow's Python client against the same
 * SQLite file), and when it is ours to pause for VACUUM.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup, type CleanupDeps, type CleanupOptions } from '../../src/cleanup/run-cleanup.js';
import type { CleanupTarget } from '../../src/cleanup/target.js';
import { freePort } from '../helpers/ports.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';
import { createExperiment, databaseConsistency, DAY, listTraces, seedTraces, SPANS_PER_TRACE } from './fixtures.js';

const NOW = Date.now();
let dir: TempDir;
let data: TempDir;
let server: MlflowServer | undefined;
let port: number;
let dbPath: string;
const exps: Record<string, string> = {};

beforeAll(async () => {
  [dir, data] = await Promise.all([makeTempDir('cleanup-offline-'), makeTempDir('cleanup-offline-data-')]);
  port = await freePort();
  server = await startMlflowServer({ dir, port });
  dbPath = server.dbPath;
  for (const name of ['alpha', 'beta']) {
    exps[name] = await createExperiment(server.url, name);
    await seedTraces(server.url, exps[name]!, [
      ...Array.from({ length: 120 }, (_, i) => NOW - (31 + i) * DAY),
      ...Array.from({ length: 10 }, (_, i) => NOW - (i + 1) * DAY),
    ]);
  }
});

afterAll(async () => {
  await server?.stop();
  await Promise.all([dir?.cleanup(), data?.cleanup()]);
});

function deps(target: CleanupTarget, lines: string[]): CleanupDeps {
  return {
    dataRoot: data.path,
    project: dir.path,
    home: dir.path,
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true' },
    print: (l) => lines.push(l),
    renderer: 'silent',
    now: NOW,
    target,
  };
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('with the server stopped', () => {
  it("deletes through MLflow's Python client, then VACUUMs the file", async () => {
    await server!.stop();
    server = undefined;
    const target: CleanupTarget = {
      trackingUri: `http://127.0.0.1:${port}`, // nobody answers
      backendStoreUri: `sqlite:///${dbPath}`,
      database: dbPath,
      python: venvBin('python'),
    };
    const options: CleanupOptions = { olderThan: '30d', experiments: ['alpha'], batchSize: 50 };

    const before = sha(dbPath);
    const lines: string[] = [];
    const dry = await runCleanup({ ...options, dryRun: true }, deps(target, lines));
    expect(dry.report).toMatchObject({ backend: 'python', planned: 120, deleted: 0 });
    expect(sha(dbPath)).toBe(before);

    const real = await runCleanup({ ...options, yes: true }, deps(target, lines));
    expect(real.exitCode).toBe(0);
    expect(real.report).toMatchObject({ backend: 'python', planned: 120, deleted: 120, vacuum: 'done', serverPaused: false });
    expect(real.report.bytesAfter!).toBeLessThan(real.report.bytesBefore!);
    expect(lines.join('\n')).toMatch(/Database: .* → .* \(VACUUM\)/);

    const alpha = await listTraces(`sqlite:///${dbPath}`, exps.alpha!);
    expect(alpha).toHaveLength(10);
    for (const t of alpha) expect(t.spans).toBe(SPANS_PER_TRACE);
    expect(await listTraces(`sqlite:///${dbPath}`, exps.beta!)).toHaveLength(130);
    expect(await databaseConsistency(dbPath)).toMatchObject({ integrity: ['ok'], orphanSpans: 0, tracesWithMissingSpans: 0 });
  });
});

describe('with our server running', () => {
  it('pauses it for VACUUM and starts it again; --all-experiments', async () => {
    server = await startMlflowServer({ dir, port });
    let running = true;
    const events: string[] = [];
    const target: CleanupTarget = {
      trackingUri: server.url,
      backendStoreUri: `sqlite:///${dbPath}`,
      database: dbPath,
      python: venvBin('python'),
      server: {
        name: 'the test server',
        isRunning: async () => running,
        stop: async () => {
          events.push('stop');
          await server!.stop();
          server = undefined;
          running = false;
          return true;
        },
        start: async () => {
          events.push('start');
          server = await startMlflowServer({ dir, port });
          running = true;
        },
      },
    };
    const lines: string[] = [];
    const r = await runCleanup({ olderThan: '30d', allExperiments: true, yes: true, json: true }, deps(target, lines));
    const report = JSON.parse(lines[0]!);
    expect(r.exitCode).toBe(0);
    expect(report.experiments.map((e: { name: string; deleted: number }) => [e.name, e.deleted]).sort()).toEqual([
      ['Default', 0],
      ['alpha', 0],
      ['beta', 120],
    ]);
    expect(report).toMatchObject({ deleted: 120, vacuum: 'done', serverPaused: true });
    expect(report.bytesAfter).toBeLessThan(report.bytesBefore);
    expect(events).toEqual(['stop', 'start']);
    // The server answers again, with what is left.
    expect((await fetch(`${server!.url}/health`)).ok).toBe(true);
    expect(await listTraces(server!.url, exps.beta!)).toHaveLength(10);
  });
});
