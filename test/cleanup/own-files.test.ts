/** Our logs, our spool and MLflow's old hook logs, with the cut-off. */
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLogActions, deleteFiles, planOwnFiles, rotateServerLog } from '../../src/cleanup/own-files.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const DAY = 86_400_000;
const NOW = Date.now();
const CUTOFF = NOW - 30 * DAY;

let data: TempDir;
let project: TempDir;

function file(p: string, text: string, mtimeMs?: number): string {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  if (mtimeMs !== undefined) utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
  return p;
}

const iso = (ms: number) => new Date(ms).toISOString();

beforeEach(async () => {
  [data, project] = await Promise.all([makeTempDir('own-data-'), makeTempDir('own-project-')]);
});
afterEach(async () => {
  await Promise.all([data.cleanup(), project.cleanup()]);
});

describe('own files', () => {
  it('plans and applies: rotated logs, hook.log lines, MLflow hook logs; the spool only when asked', () => {
    const logs = path.join(data.path, 'logs');
    const oldRotated = file(path.join(logs, 'hook.log.1'), 'old\n', NOW - 40 * DAY);
    const newRotated = file(path.join(logs, 'server.log.1'), 'recent\n', NOW - DAY);
    const hookLog = file(
      path.join(logs, 'hook.log'),
      [
        `${iso(NOW - 50 * DAY)} error one`,
        `  continuation of one`,
        `${iso(NOW - 31 * DAY)} warn two`,
        `${iso(NOW - 2 * DAY)} error three`,
        `${iso(NOW - DAY)} info four`,
        '',
      ].join('\n'),
    );
    const allOld = file(path.join(logs, 'other.log'), `${iso(NOW - 60 * DAY)} error only\n`);
    const serverLog = file(path.join(logs, 'server.log'), 'uvicorn says hi\n', NOW - 90 * DAY);
    const spoolDir = path.join(data.path, 'spool');
    const oldSpool = file(path.join(spoolDir, `${String(NOW - 40 * DAY).padStart(15, '0')}-aaaa.trace.json`), '{}');
    const newSpool = file(path.join(spoolDir, `${String(NOW - DAY).padStart(15, '0')}-bbbb.trace.json`), '{}');
    const rejected = file(path.join(spoolDir, 'rejected', `${String(NOW - 40 * DAY).padStart(15, '0')}-cccc.trace.json`), '{}');
    const mlflowLog = file(path.join(project.path, '.claude', 'mlflow', 'claude_tracing.log'), 'mlflow', NOW - 45 * DAY);
    const mlflowLogNew = file(path.join(project.path, '.claude', 'mlflow', 'claude_tracing.log.1'), 'mlflow', NOW - DAY);

    const plan = planOwnFiles({ dataRoot: data.path, project: project.path, cutoffMs: CUTOFF });
    expect(plan.logs.map((a) => [path.basename(a.file), a.action]).sort()).toEqual([
      ['hook.log', 'trim'],
      ['hook.log.1', 'delete'],
      ['other.log', 'delete'],
    ]);
    expect(plan.spool.map((s) => s.file)).toEqual([oldSpool]);
    expect(plan.rejected.map((s) => s.file)).toEqual([rejected]);
    expect(plan.mlflowHookLogs.map((s) => s.file)).toEqual([mlflowLog]);

    const done = applyLogActions(plan, CUTOFF);
    expect(done.removed.sort()).toEqual([allOld, oldRotated, mlflowLog].sort());
    expect(done.trimmed).toEqual([hookLog]);
    expect(readFileSync(hookLog, 'utf8')).toBe(`${iso(NOW - 2 * DAY)} error three\n${iso(NOW - DAY)} info four\n`);
    for (const kept of [newRotated, serverLog, oldSpool, newSpool, rejected, mlflowLogNew]) expect(existsSync(kept)).toBe(true);

    expect(deleteFiles([...plan.spool, ...plan.rejected])).toEqual([oldSpool, rejected]);
    expect(existsSync(newSpool)).toBe(true);
  });

  it('rotates a big server.log (only called while the server is stopped)', () => {
    const log = file(path.join(data.path, 'logs', 'server.log'), 'x'.repeat(1_100_000));
    expect(rotateServerLog(data.path)).toBe(`${log}.1`);
    expect(existsSync(log)).toBe(false);
    file(log, 'small');
    expect(rotateServerLog(data.path)).toBeUndefined();
  });

  it('removes the emptied .claude/mlflow folder, never a non-empty one', () => {
    const dir = path.join(project.path, '.claude', 'mlflow');
    file(path.join(dir, 'claude_tracing.log'), 'x', NOW - 40 * DAY);
    applyLogActions(planOwnFiles({ dataRoot: data.path, project: project.path, cutoffMs: CUTOFF }), CUTOFF);
    expect(existsSync(dir)).toBe(false);
    file(path.join(dir, 'claude_tracing.log'), 'x', NOW - 40 * DAY);
    file(path.join(dir, 'notes.txt'), 'keep me');
    applyLogActions(planOwnFiles({ dataRoot: data.path, project: project.path, cutoffMs: CUTOFF }), CUTOFF);
    expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
  });
});

describe('backups', () => {
  it('keeps the newest three', async () => {
    const { pruneBackups } = await import('../../src/cleanup/backups.js');
    const dir = path.join(data.path, 'backups');
    const made = [5, 4, 3, 2, 1].map((age) => file(path.join(dir, `mlflow-${age}.db`), 'x', NOW - age * DAY));
    file(path.join(dir, 'notes.txt'), 'not a backup', NOW - 9 * DAY);
    expect(pruneBackups(dir).sort()).toEqual([made[0], made[1]].sort());
    expect(existsSync(made[2]!) && existsSync(made[3]!) && existsSync(made[4]!)).toBe(true);
    expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
  });
});
