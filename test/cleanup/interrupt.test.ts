/**
 * Ctrl-C in the middle of a multi-batch cleanup, as a real process: it stops
 * between batches (exit 130); what was deleted stays deleted, the rest is
 * untouched, and no trace is half-deleted. The run is configured the way
 * `init` leaves things: config.json names the local server and its SQLite file.
 */
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, venvBin } from '../helpers/venv.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { createExperiment, databaseConsistency, DAY, listTraces, seedTraces } from './fixtures.js';

const child = path.join(repoRoot, 'test', 'cleanup', 'cleanup-child.mjs');
const OLD = 600;
const FRESH = 40;
const BATCH = 5;

let server: MlflowServer;
let data: TempDir;
let experimentId: string;

beforeAll(async () => {
  [server, data] = await Promise.all([startMlflowServer(), makeTempDir('cleanup-int-')]);
  const now = Date.now();
  experimentId = await createExperiment(server.url, 'interrupt');
  await seedTraces(server.url, experimentId, [
    ...Array.from({ length: OLD }, (_, i) => now - 31 * DAY - i * 3_600_000),
    ...Array.from({ length: FRESH }, (_, i) => now - DAY - i * 3_600_000),
  ]);
  mkdirSync(data.path, { recursive: true });
  writeFileSync(
    path.join(data.path, 'config.json'),
    JSON.stringify({
      trackingUri: server.url,
      experimentName: 'interrupt',
      server: {
        manager: 'background',
        mlflowBin: venvBin('mlflow'),
        host: '127.0.0.1',
        port: server.port,
        backendStoreUri: `sqlite:///${server.dbPath}`,
      },
    }),
  );
});

afterAll(async () => {
  await server?.stop();
  await data?.cleanup();
});

describe('Ctrl-C during cleanup', () => {
  it('stops between batches: exit 130, a consistent database, the rest untouched', async () => {
    const run = execa(
      process.execPath,
      [child, JSON.stringify({ olderThan: '30d', experiment: ['interrupt'], yes: true, batchSize: String(BATCH), backup: false })],
      {
        cwd: data.path,
        env: { PATH: process.env.PATH ?? '', HOME: data.path, CLAUDE_MLFLOW_HOME: data.path, CI: 'true', MLFLOW_DISABLE_TELEMETRY: 'true' },
        extendEnv: false,
        reject: false,
        timeout: 120_000,
      },
    );
    let out = '';
    let sent = false;
    run.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const done = [...out.matchAll(/(\d+)\/600 deleted/g)].map((m) => Number(m[1]));
      if (!sent && done.some((n) => n >= 50)) {
        sent = true;
        run.kill('SIGINT');
      }
    });
    const result = await run;
    expect(sent).toBe(true);
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(130);
    expect(result.stderr).toMatch(/Stopping after the current batch/);
    const match = /Interrupted: deleted (\d+) traces of 600; the other (\d+) are untouched/.exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();
    const deleted = Number(match![1]);
    expect(deleted).toBeGreaterThanOrEqual(50);
    expect(deleted).toBeLessThan(OLD);
    expect(deleted % BATCH).toBe(0); // whole batches only
    expect(Number(match![2])).toBe(OLD - deleted);

    const left = await listTraces(server.url, experimentId);
    expect(left).toHaveLength(OLD + FRESH - deleted);
    const db = await databaseConsistency(server.dbPath);
    expect(db).toEqual({
      integrity: ['ok'],
      traces: OLD + FRESH - deleted,
      orphanSpans: 0,
      orphanTags: 0,
      orphanMetadata: 0,
      tracesWithMissingSpans: 0,
    });
    // Oldest first: every remaining old trace is newer than every deleted one would have been.
    const remainingOld = left.filter((t) => t.timestampMs < Date.now() - 30 * DAY);
    expect(remainingOld).toHaveLength(OLD - deleted);

    // Running it again finishes the job.
    const again = await execa(
      process.execPath,
      [child, JSON.stringify({ olderThan: '30d', experiment: ['interrupt'], yes: true, backup: false })],
      {
        cwd: data.path,
        env: { PATH: process.env.PATH ?? '', HOME: data.path, CLAUDE_MLFLOW_HOME: data.path, CI: 'true' },
        extendEnv: false,
        reject: false,
      },
    );
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await listTraces(server.url, experimentId)).toHaveLength(FRESH);
  });
});
