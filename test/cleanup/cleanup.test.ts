/**
 * `cleanup` against a real MLflow server (3.12, SQLite), in-process through
 * runCleanup: exact cut-off, dry run, --keep-last at the boundary, backup,
 * bad input, confirmation, the experiment from the project's settings.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup, type CleanupDeps, type CleanupOptions } from '../../src/cleanup/run-cleanup.js';
import { CliError } from '../../src/errors.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';
import { createExperiment, databaseConsistency, DAY, holdExclusiveLock, listTraces, seedTraces, SPANS_PER_TRACE } from './fixtures.js';

const NOW = Date.now();
const MIN = 60_000;

let server: MlflowServer;
let data: TempDir;
let project: TempDir;
let home: TempDir;

beforeAll(async () => {
  [server, data, project, home] = await Promise.all([
    startMlflowServer(),
    makeTempDir('cleanup-data-'),
    makeTempDir('cleanup-project-'),
    makeTempDir('cleanup-home-'),
  ]);
});

afterAll(async () => {
  await server?.stop();
  await Promise.all([data?.cleanup(), project?.cleanup(), home?.cleanup()]);
});

async function run(options: CleanupOptions, extra: Partial<CleanupDeps> = {}) {
  const lines: string[] = [];
  const result = await runCleanup(options, {
    dataRoot: data.path,
    project: project.path,
    home: home.path,
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true' },
    print: (line) => lines.push(line),
    renderer: 'silent',
    now: NOW,
    target: {
      trackingUri: server.url,
      backendStoreUri: `sqlite:///${server.dbPath}`,
      database: server.dbPath,
      python: venvBin('python'),
    },
    ...extra,
  });
  return { ...result, lines, text: lines.join('\n') };
}

async function failure(promise: Promise<unknown>): Promise<CliError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('expected a CliError');
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const ids = (traces: { id: string }[]): string[] => traces.map((t) => t.id).sort();

describe('cleanup --older-than', () => {
  it('deletes exactly the traces older than the cut-off; newer ones keep their spans; another experiment is untouched; the backup holds everything', async () => {
    const a = await createExperiment(server.url, 'cutoff-a');
    const b = await createExperiment(server.url, 'cutoff-b');
    const cutoff = NOW - 30 * DAY;
    const keep = [NOW - DAY, NOW - 10 * DAY, cutoff + MIN, cutoff]; // exactly at the cut-off is not older
    const drop = [cutoff - 1, cutoff - DAY, NOW - 90 * DAY, NOW - 400 * DAY];
    const seededA = await seedTraces(server.url, a, [...keep, ...drop]);
    const seededB = await seedTraces(server.url, b, [...keep, ...drop]);
    const everything = [...ids(await listTraces(server.url, a)), ...ids(await listTraces(server.url, b))].sort();

    const r = await run({ olderThan: '30d', experiments: ['cutoff-a'], yes: true, batchSize: 3 });
    expect(r.exitCode).toBe(0);
    expect(r.report.planned).toBe(4);
    expect(r.report.deleted).toBe(4);
    expect(r.report.experiments).toEqual([
      expect.objectContaining({ id: a, name: 'cutoff-a', total: 8, older: 4, planned: 4, deleted: 4 }),
    ]);
    expect(r.text).toMatch(/delete 4 traces of 8/);

    const left = await listTraces(server.url, a);
    expect(ids(left)).toEqual(ids(seededA.filter((t) => t.startMs >= cutoff)));
    for (const t of left) expect(t.spans).toBe(SPANS_PER_TRACE);
    const other = await listTraces(server.url, b);
    expect(ids(other)).toEqual(ids(seededB));
    for (const t of other) expect(t.spans).toBe(SPANS_PER_TRACE);

    // The backup: a private file in a private folder, which MLflow opens, with every trace from before.
    expect(r.report.backup).toMatch(/backups[/\\]mlflow-.*\.db$/);
    const backup = r.report.backup!;
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(backup)).mode & 0o777).toBe(0o700);
    const inBackup = [...ids(await listTraces(`sqlite:///${backup}`, a)), ...ids(await listTraces(`sqlite:///${backup}`, b))].sort();
    expect(inBackup).toEqual(everything);
    const check = await databaseConsistency(backup);
    expect(check.integrity).toEqual(['ok']);
    expect(check.tracesWithMissingSpans).toBe(0);

    // The server's own database stays consistent.
    const db = await databaseConsistency(server.dbPath);
    expect(db).toMatchObject({ integrity: ['ok'], orphanSpans: 0, orphanTags: 0, orphanMetadata: 0, tracesWithMissingSpans: 0 });
    // The server is not ours to pause: it says how to VACUUM.
    expect(r.report.vacuum).toBe('manual');
    expect(r.text).toMatch(/VACUUM/);
    // Printed for the user to run from wherever they are: isolated, so a sqlite3.py in that folder is not imported.
    expect(r.report.vacuumHint).toMatch(/ -I -c 'import sqlite3; /);
  });

  it('--before takes a date (local midnight)', async () => {
    const e = await createExperiment(server.url, 'before-date');
    const midnight = new Date(NOW - 20 * DAY);
    midnight.setHours(0, 0, 0, 0);
    const day = `${midnight.getFullYear()}-${String(midnight.getMonth() + 1).padStart(2, '0')}-${String(midnight.getDate()).padStart(2, '0')}`;
    await seedTraces(server.url, e, [midnight.getTime() - 1, midnight.getTime(), midnight.getTime() + 1]);
    const r = await run({ before: day, experiments: [e], yes: true, backup: false });
    expect(r.report.deleted).toBe(1);
    expect((await listTraces(server.url, e)).map((t) => t.timestampMs).sort()).toEqual([midnight.getTime(), midnight.getTime() + 1]);
    expect(r.report.backup).toBeUndefined();
  });
});

describe('--dry-run', () => {
  it('counts what a real run then deletes, and leaves the database byte-identical', async () => {
    const e = await createExperiment(server.url, 'dry-run');
    const old = Array.from({ length: 30 }, (_, i) => NOW - (31 + i) * DAY);
    const fresh = Array.from({ length: 10 }, (_, i) => NOW - (i + 1) * DAY);
    await seedTraces(server.url, e, [...old, ...fresh]);
    const before = sha(server.dbPath);

    const dry = await run({ olderThan: '30d', experiments: ['dry-run'], dryRun: true, json: true });
    expect(dry.exitCode).toBe(0);
    expect(dry.lines).toHaveLength(1); // --json: one JSON document
    const plan = JSON.parse(dry.lines[0]!);
    expect(plan).toMatchObject({ dryRun: true, planned: 30, deleted: 0, database: server.dbPath });
    expect(plan.estimatedBytes).toBeGreaterThan(0);
    expect(sha(server.dbPath)).toBe(before);
    expect(await listTraces(server.url, e)).toHaveLength(40);

    const real = await run({ olderThan: '30d', experiments: ['dry-run'], yes: true, batchSize: 7, json: true });
    const report = JSON.parse(real.lines[0]!);
    expect(report.deleted).toBe(plan.planned);
    expect(report).toMatchObject({ dryRun: false, planned: 30, interrupted: false });
    expect(typeof report.bytesBefore).toBe('number');
    expect(typeof report.bytesAfter).toBe('number');
    expect(report.backup).toMatch(/mlflow-.*\.db$/);
    expect(await listTraces(server.url, e)).toHaveLength(10);
    expect(readdirSync(path.dirname(report.backup)).filter((n) => n.endsWith('.db')).length).toBeLessThanOrEqual(3);
  });
});

describe('--keep-last', () => {
  it('keeps the newest N of the experiment, whatever their age, at the boundary', async () => {
    const e = await createExperiment(server.url, 'keep-last');
    const old = Array.from({ length: 10 }, (_, i) => NOW - (40 + i) * DAY); // newest first
    const fresh = [NOW - DAY, NOW - 2 * DAY];
    const seeded = await seedTraces(server.url, e, [...fresh, ...old]);
    const planned = async (keepLast: number) =>
      JSON.parse((await run({ olderThan: '30d', experiments: [e], keepLast, dryRun: true, json: true })).lines[0]!).planned;
    expect(await planned(13)).toBe(0); // more than there are
    expect(await planned(12)).toBe(0); // exactly all of them
    expect(await planned(11)).toBe(1); // only the oldest goes
    expect(await planned(5)).toBe(7);
    expect(await planned(2)).toBe(10); // the two fresh ones fill it: every old one goes
    expect(await planned(1)).toBe(10);

    const r = await run({ olderThan: '30d', experiments: [e], keepLast: 5, yes: true, backup: false });
    expect(r.report.deleted).toBe(7);
    expect(r.report.experiments[0]).toMatchObject({ older: 10, planned: 7, keptByKeepLast: 3 });
    const newest5 = [...seeded].sort((x, y) => y.startMs - x.startMs).slice(0, 5);
    expect(ids(await listTraces(server.url, e))).toEqual(ids(newest5));
  });

  it('splits traces that share the boundary timestamp exactly (ids for the tie)', async () => {
    const e = await createExperiment(server.url, 'keep-last-tie');
    const tie = NOW - 45 * DAY;
    const seeded = await seedTraces(server.url, e, [NOW - DAY, NOW - 40 * DAY, tie, tie, NOW - 50 * DAY]);
    const dry = JSON.parse((await run({ olderThan: '30d', experiments: [e], keepLast: 3, dryRun: true, json: true })).lines[0]!);
    expect(dry.planned).toBe(2);
    const r = await run({ olderThan: '30d', experiments: [e], keepLast: 3, yes: true, backup: false });
    expect(r.report.deleted).toBe(2);
    const left = await listTraces(server.url, e);
    expect(left).toHaveLength(3);
    const leftIds = new Set(left.map((t) => t.id));
    expect(leftIds.has(seeded[0]!.id) && leftIds.has(seeded[1]!.id)).toBe(true);
    expect([seeded[2]!.id, seeded[3]!.id].filter((id) => leftIds.has(id))).toHaveLength(1);
    expect(leftIds.has(seeded[4]!.id)).toBe(false);
  });
});

describe('bad input: a clear error, and nothing deleted', () => {
  let e: string;
  beforeAll(async () => {
    e = await createExperiment(server.url, 'bad-input');
    await seedTraces(server.url, e, [NOW - 60 * DAY, NOW - 70 * DAY, NOW - DAY]);
  });

  it.each([
    ['30', /has no unit.*12h, 30d or 2w/],
    ['-1d', /is negative/],
    ['3x', /unknown unit "x"/],
    ['0d', /is zero/],
    ['1.5d', /not a whole number/],
  ])('--older-than %s', async (value, message) => {
    const before = sha(server.dbPath);
    const error = await failure(run({ olderThan: value, experiments: [e], yes: true }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(message);
    expect(sha(server.dbPath)).toBe(before);
    expect(await listTraces(server.url, e)).toHaveLength(3);
  });

  it('an unknown experiment', async () => {
    const before = sha(server.dbPath);
    const error = await failure(run({ olderThan: '30d', experiments: [e, 'no-such-experiment'], yes: true }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/no experiment named or numbered "no-such-experiment"/);
    expect(sha(server.dbPath)).toBe(before);
    expect(await listTraces(server.url, e)).toHaveLength(3);
  });

  it('a database locked by another writer (BEGIN EXCLUSIVE in a second process)', async () => {
    const lock = await holdExclusiveLock(server.dbPath);
    let error: CliError;
    try {
      error = await failure(run({ olderThan: '30d', experiments: [e], yes: true }));
    } finally {
      await lock.release();
    }
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/is locked by another writer.*Nothing was deleted/);
    expect(await listTraces(server.url, e)).toHaveLength(3);
  });

  it('no terminal and no --yes: the plan, then no deletion (exit 2); a "no" cancels (exit 130)', async () => {
    const error = await failure(run({ olderThan: '30d', experiments: [e] }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/no terminal to confirm on.*--yes.*--dry-run/);
    const asked: string[] = [];
    const no = await failure(run({ olderThan: '30d', experiments: [e] }, { confirm: async (q) => (asked.push(q), false) }));
    expect(no.exitCode).toBe(130);
    expect(asked).toEqual(['Delete 2 traces?']);
    expect(await listTraces(server.url, e)).toHaveLength(3);
    const yes = await run({ olderThan: '30d', experiments: [e], backup: false }, { confirm: async () => true });
    expect(yes.report.deleted).toBe(2);
  });

  it('conflicting or missing options', async () => {
    expect((await failure(run({ experiments: [e], yes: true }))).message).toMatch(/--older-than 30d .* or --before/);
    expect((await failure(run({ olderThan: '30d', before: '2020-01-01', experiments: [e] }))).exitCode).toBe(2);
    expect((await failure(run({ olderThan: '30d', experiments: [e], allExperiments: true }))).exitCode).toBe(2);
    expect((await failure(run({ olderThan: '30d', experiments: [e], keepLast: '-3' }))).message).toMatch(
      /--keep-last needs a whole number/,
    );
    expect((await failure(run({ before: '2026-02-30', experiments: [e] }))).message).toMatch(/not a calendar date/);
  });
});

describe('which experiment', () => {
  it("is, by default, the one the project's Claude Code settings name", async () => {
    const mine = await createExperiment(server.url, 'from-settings');
    const theirs = await createExperiment(server.url, 'not-in-settings');
    await seedTraces(server.url, mine, [NOW - 40 * DAY]);
    await seedTraces(server.url, theirs, [NOW - 40 * DAY]);
    const settings = path.join(project.path, '.claude', 'settings.json');
    mkdirSync(path.dirname(settings), { recursive: true });

    writeFileSync(settings, JSON.stringify({ env: { MLFLOW_CLAUDE_TRACING_ENABLED: 'true' } }));
    const none = await failure(run({ olderThan: '30d', yes: true }));
    expect(none.exitCode).toBe(2);
    expect(none.message).toMatch(/no experiment to clean.*--experiment NAME\|ID or --all-experiments/);

    writeFileSync(settings, JSON.stringify({ env: { MLFLOW_EXPERIMENT_NAME: 'from-settings' } }));
    const r = await run({ olderThan: '30d', yes: true, backup: false });
    expect(r.report.experiments.map((x) => x.name)).toEqual(['from-settings']);
    expect(r.report.deleted).toBe(1);
    expect(await listTraces(server.url, mine)).toHaveLength(0);
    expect(await listTraces(server.url, theirs)).toHaveLength(1);
  });

  it('--experiment takes names and ids, repeated', async () => {
    const x = await createExperiment(server.url, 'by-name');
    const y = await createExperiment(server.url, 'by-id');
    await seedTraces(server.url, x, [NOW - 40 * DAY]);
    await seedTraces(server.url, y, [NOW - 40 * DAY, NOW - 41 * DAY]);
    const r = await run({ olderThan: '30d', experiments: ['by-name', y, 'by-name'], yes: true, backup: false });
    expect(r.report.experiments.map((z) => [z.name, z.deleted])).toEqual([
      ['by-name', 1],
      ['by-id', 2],
    ]);
  });
});

describe('our own files', () => {
  it('old logs go with the traces; with --yes old spool files stay (and we say `flush`); asked, they can go', async () => {
    const e = await createExperiment(server.url, 'own-files');
    await seedTraces(server.url, e, [NOW - 40 * DAY]);
    const logs = path.join(data.path, 'logs');
    mkdirSync(logs, { recursive: true });
    writeFileSync(
      path.join(logs, 'hook.log'),
      `${new Date(NOW - 40 * DAY).toISOString()} error old\n${new Date(NOW - DAY).toISOString()} error new\n`,
    );
    const spool = path.join(data.path, 'spool');
    mkdirSync(spool, { recursive: true });
    const old = path.join(spool, `${String(NOW - 40 * DAY).padStart(15, '0')}-abcd.trace.json`);
    writeFileSync(old, '{}');

    const r = await run({ olderThan: '30d', experiments: [e], yes: true, backup: false });
    expect(r.report.deleted).toBe(1);
    expect(r.report.logs.trimmed).toEqual([path.join(logs, 'hook.log')]);
    expect(readFileSync(path.join(logs, 'hook.log'), 'utf8')).not.toMatch(/error old/);
    expect(r.report.spool).toMatchObject({ older: 1, action: 'keep' });
    expect(r.text).toMatch(/claude-mlflow flush/);

    const asked: string[] = [];
    const again = await run(
      { olderThan: '30d', experiments: [e], backup: false },
      { confirm: async () => true, chooseSpool: async (q) => (asked.push(q), 'delete') },
    );
    expect(asked).toEqual([expect.stringMatching(/1 spooled trace was spooled before the cut-off/)]);
    expect(again.report.spool).toMatchObject({ older: 1, action: 'delete', removed: 1 });

    const nothing = await run({ olderThan: '30d', experiments: [e] });
    expect(nothing.exitCode).toBe(0);
    expect(nothing.text).toMatch(/Nothing to clean up/);
  });
});
