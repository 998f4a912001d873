/**
 * doctor against a real setup made by `init`: a real MLflow server, real
 * processes holding the port and the database, a real spool, a real
 * corrupted database, a venv that goes missing. Each check is seen failing,
 * then passing (after --fix where there is one).
 */
import { copyFileSync, existsSync, openSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { freePort } from '../helpers/ports.js';
import { distCli, testVenv, venvBin } from '../helpers/venv.js';
import { assertSchema, check, initSetup, statuses, syntheticSession, type Setup } from './setup.js';

let s: Setup;
const children: ResultPromise[] = [];

beforeAll(async () => {
  s = await initSetup({ venvLink: true });
}, 240_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await s?.stop();
});

function config(): { server: { port: number }; trackingUri: string } {
  return JSON.parse(readFileSync(path.join(s.data, 'config.json'), 'utf8'));
}

function settingsEnv(): Record<string, string> {
  return JSON.parse(readFileSync(s.projectSettings, 'utf8')).env;
}

describe('doctor on a real setup', () => {
  it('passes every check right after init, fast, and --json follows the documented schema', async () => {
    const started = performance.now();
    const run = await s.doctor({ json: true });
    const wall = performance.now() - started;
    const report = JSON.parse(run.lines.join('\n'));
    assertSchema(report);
    // linger: not a systemd service; pg-*: the server stores traces in SQLite.
    const notApplicable = ['linger', 'pg-connection', 'pg-connections', 'pg-migration'];
    const bad = report.checks.filter(
      (c: { status: string; id: string }) => c.status !== 'ok' && !(c.status === 'skip' && notApplicable.includes(c.id)),
    );
    expect(bad, JSON.stringify(bad, null, 2)).toEqual([]);
    expect(report.summary.checks).toBeGreaterThanOrEqual(15);
    expect(run.exitCode).toBe(0);
    expect(report.exitCode).toBe(0);
    console.log(`doctor, ${report.summary.checks} checks, in-process: ${Math.round(wall)} ms (report says ${report.durationMs} ms)`);
    expect(wall).toBeLessThan(5000);

    const human = await s.doctor({ verbose: true });
    expect(human.lines.at(-1)).toMatch(/\d+ checks, 0 problems$/);
    expect(human.lines).toContain('Runtime');
  });

  it('--deep runs the configured hook command, sees the trace arrive, and deletes it', async () => {
    const run = await s.doctor({ check: 'deep' });
    const deep = check(run.report, 'deep');
    expect(deep.status, JSON.stringify(deep)).toBe('ok');
    expect(deep.message).toMatch(/delivered a trace in \d+ ms \(deleted again\)/);
    const traceId = /trace (tr-[0-9a-f]+)/.exec(deep.details!.join('\n'))![1]!;
    const res = await fetch(`http://127.0.0.1:${config().server.port}/api/3.0/mlflow/traces/${traceId}`);
    expect(res.status).toBe(404);
  });

  it('the server stopped and the spool non-empty: server and service fail, spool warns; --fix starts the server and flushes', async () => {
    const stop = await s.cli(['server', 'stop']);
    expect(stop.exitCode, stop.stderr).toBe(0);
    const stdin = syntheticSession(s.tmp.path, 'spooled-session', new Date());
    const hook = await runHookProcess(stdin, { ...s.env, ...settingsEnv() }, path.join(s.data, 'runtime', 'claude-mlflow-hook.mjs'));
    expect(hook.exitCode).toBe(0);
    // The delivery process the hook started finds no server and records it.
    const record = path.join(s.data, 'spool', '.delivery.json');
    const until = Date.now() + 30_000;
    while (!(existsSync(record) && JSON.parse(readFileSync(record, 'utf8')).lastFailureAt) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));

    const broken = await s.doctor();
    expect(statuses(broken.report, ['server', 'service', 'spool', 'port'])).toEqual({
      server: 'fail',
      service: 'fail',
      spool: 'warn',
      port: 'ok',
    });
    expect(check(broken.report, 'spool').message).toMatch(/^1 trace waiting \(the oldest for \d+ s\): the server does not take them\.$/);
    expect(check(broken.report, 'service').fix?.auto).toBe('start-server');
    expect(broken.exitCode).toBe(1);

    // No TTY and no --yes: the fixes are listed, nothing changes.
    const dry = await s.doctor({ fix: true });
    expect(dry.lines.join('\n')).toContain('Nothing was changed: run `claude-mlflow doctor --fix --yes`');
    expect(dry.report?.fixes?.map((f) => [f.id, f.status])).toEqual([
      ['start-server', 'pending'],
      ['flush-spool', 'pending'],
    ]);
    expect(dry.exitCode).toBe(1);

    const fixed = await s.doctor({ fix: true, yes: true });
    expect(fixed.report?.fixes?.map((f) => [f.id, f.status])).toEqual([
      ['start-server', 'applied'],
      ['flush-spool', 'applied'],
    ]);
    expect(statuses(fixed.report, ['server', 'service', 'spool'])).toEqual({ server: 'ok', service: 'ok', spool: 'ok' });
    // The export failure is in the hook log: a warning, which does not fail the run.
    expect(check(fixed.report, 'hook-log').status).toBe('warn');
    expect(fixed.exitCode).toBe(0);
  }, 240_000);

  it('a second process holding an exclusive SQLite lock: db-lock fails and names it; passes once it lets go', async () => {
    const db = path.join(s.data, 'mlflow.db');
    const holder = execa(
      venvBin('python'),
      [
        '-c',
        'import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute("BEGIN EXCLUSIVE")\nprint("locked", flush=True)\ntime.sleep(120)',
        db,
      ],
      { reject: false },
    );
    children.push(holder);
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.once('data', () => resolve());
      holder.once('exit', () => reject(new Error('the lock holder exited')));
    });
    const locked = await s.doctor({ check: 'db-lock' });
    const c = check(locked.report, 'db-lock');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('not our server');
    expect(c.details!.join('\n')).toContain(`PID ${holder.pid}`);
    expect(c.fix?.command).toBe(`kill ${holder.pid}`);
    expect(locked.exitCode).toBe(1);

    holder.kill('SIGTERM');
    await holder;
    const free = await s.doctor({ check: 'db-lock' });
    expect(check(free.report, 'db-lock').status).toBe('ok');
  });

  it('a stray second `mlflow server` on our database: db-lock tells it from our server; passes once it is gone', async () => {
    const db = path.join(s.data, 'mlflow.db');
    const port = await freePort();
    const stray = execa(
      venvBin('mlflow'),
      ['server', '--backend-store-uri', `sqlite:///${db}`, '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
      {
        reject: false,
        detached: true,
        stdout: 'ignore',
        stderr: 'ignore',
        env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', MLFLOW_DISABLE_TELEMETRY: 'true' },
      },
    );
    children.push(stray);
    const killStray = () => {
      try {
        process.kill(-stray.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    };
    try {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const up = await fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (up) break;
        if (Date.now() > deadline) throw new Error('the stray server did not start');
        await new Promise((r) => setTimeout(r, 300));
      }
      // Make it open the database.
      await fetch(`http://127.0.0.1:${port}/api/2.0/mlflow/experiments/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"max_results": 1}',
      });

      const run = await s.doctor({ check: 'db-lock' });
      const c = check(run.report, 'db-lock');
      expect(c.status, JSON.stringify(c)).toBe('warn');
      expect(c.message).toContain('A second MLflow server, not ours');
      const ourPid = JSON.parse(readFileSync(path.join(s.data, 'server.pid'), 'utf8')).pid as number;
      const named = [...c.details!.join('\n').matchAll(/PID (\d+)/g)].map((m) => Number(m[1]));
      expect(named.length).toBeGreaterThan(0);
      expect(named).not.toContain(ourPid);
      expect(c.fix?.command).toMatch(/^kill \d+/);
    } finally {
      killStray();
      await stray;
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(check((await s.doctor({ check: 'db-lock' })).report, 'db-lock').status).toBe('ok');
  }, 240_000);

  it('another program listening on the port: port fails with its PID; --fix moves our server to a free port', async () => {
    const oldPort = config().server.port;
    await s.cli(['server', 'stop']);
    const listener = execa(
      process.execPath,
      ['-e', `require('net').createServer().listen(${oldPort}, '127.0.0.1', () => console.log('up'))`],
      { reject: false },
    );
    children.push(listener);
    await new Promise<void>((resolve, reject) => {
      listener.stdout?.once('data', () => resolve());
      listener.once('exit', () => reject(new Error('the listener could not take the port')));
    });

    const held = await s.doctor();
    const port = check(held.report, 'port');
    expect(port.status).toBe('fail');
    expect(port.message).toContain('held by another program');
    expect(port.details!.join('\n')).toContain(`PID ${listener.pid} ${process.execPath} -e`);
    expect(port.fix?.auto).toBe('move-port');
    expect(check(held.report, 'server').status).toBe('fail');

    const fixed = await s.doctor({ fix: true, yes: true });
    expect(fixed.report?.fixes?.map((f) => [f.id, f.status])).toEqual([
      ['move-port', 'applied'],
      ['start-server', 'applied'],
    ]);
    const moveMessage = fixed.report!.fixes![0]!.message;
    expect(moveMessage).toContain(`PID ${listener.pid}`);
    expect(moveMessage).toContain('left alone');
    const newPort = config().server.port;
    expect(newPort).not.toBe(oldPort);
    expect(settingsEnv().MLFLOW_TRACKING_URI).toBe(`http://127.0.0.1:${newPort}`);
    expect(statuses(fixed.report, ['port', 'server', 'tracking-uri', 'service'])).toEqual({
      port: 'ok',
      server: 'ok',
      'tracking-uri': 'ok',
      service: 'ok',
    });
    // The other program still runs: doctor never stops what it did not start.
    expect(() => process.kill(listener.pid!, 0)).not.toThrow();
    listener.kill('SIGTERM');
  }, 240_000);

  it('the venv missing: mlflow-installed fails; passes when it is back', async () => {
    const link = path.join(s.data, 'venv');
    unlinkSync(link);
    try {
      const missing = await s.doctor({ check: 'mlflow-installed' });
      const c = check(missing.report, 'mlflow-installed');
      expect(c.status).toBe('fail');
      expect(c.message).toContain(`${link}/bin/mlflow does not exist`);
      expect(c.fix?.auto).toBe('reinstall-mlflow');
    } finally {
      symlinkSync(testVenv(), link);
    }
    const back = await s.doctor({ check: 'mlflow-installed' });
    expect(check(back.report, 'mlflow-installed').status).toBe('ok');
  });

  it('a corrupted database file: db-health fails; passes with the good file back', async () => {
    await s.cli(['server', 'stop']);
    const db = path.join(s.data, 'mlflow.db');
    const good = `${db}.good`;
    copyFileSync(db, good);
    const copy = `${db}.corrupt`;
    copyFileSync(db, copy);
    // Garbage over pages 2..9 of the copy (page 1, the header, stays intact).
    const fd = openSync(copy, 'r+');
    const garbage = Buffer.alloc(4096 * 8);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 251;
    writeSync(fd, garbage, 0, garbage.length, 4096);
    closeSync(fd);
    renameSync(copy, db);
    try {
      const corrupt = await s.doctor({ check: 'db-health' });
      const c = check(corrupt.report, 'db-health');
      expect(c.status, JSON.stringify(c)).toBe('fail');
      expect(c.fix?.command).toContain('.recover');
      expect(corrupt.exitCode).toBe(1);
    } finally {
      renameSync(good, db);
    }
    const healthy = await s.doctor({ check: 'db-health' });
    expect(check(healthy.report, 'db-health').status).toBe('ok');
    expect(existsSync(good)).toBe(false);
  });

  it('a schema migration cut short: db-health says so, and its fix brings the data back and the server up', async () => {
    await s.cli(['server', 'stop']);
    const db = path.join(s.data, 'mlflow.db');
    const sql = (statement: string): Promise<unknown> =>
      execa(venvBin('python'), [
        '-c',
        'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()',
        db,
        statement,
      ]);
    const tagCount = async (): Promise<string> =>
      (
        await execa(
          venvBin('python'),
          ['-c', 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tags").fetchone()[0])', db],
          { reject: false },
        )
      ).stdout.trim();
    const tags = await tagCount();
    // Where alembic's batch mode stops between "drop tags" and "rename the copy to tags", and a second copy begun.
    await sql('ALTER TABLE tags RENAME TO _alembic_tmp_tags');
    await sql('CREATE TABLE _alembic_tmp_experiments AS SELECT * FROM experiments');

    const broken = check((await s.doctor({ check: 'db-health', cli: `${process.execPath} ${distCli}` })).report, 'db-health');
    expect(broken.status).toBe('fail');
    expect(broken.message).toBe(
      `A schema migration of ${db} was cut short (_alembic_tmp_experiments, _alembic_tmp_tags left behind): MLflow's server does not start on it ("table _alembic_tmp_experiments already exists").`,
    );
    expect(broken.details).toEqual([
      '_alembic_tmp_experiments: a leftover copy of experiments, which is intact',
      '_alembic_tmp_tags: holds tags, which the migration had already dropped',
    ]);
    const fix = await execa('sh', ['-c', broken.fix!.command!], {
      env: { ...process.env, HOME: s.home, CLAUDE_MLFLOW_HOME: s.data },
      reject: false,
    });
    expect(fix.exitCode, fix.stderr).toBe(0);
    expect(await tagCount()).toBe(tags);
    expect(existsSync(`${db}.before-repair`)).toBe(true);
    expect(check((await s.doctor({ check: 'db-health' })).report, 'db-health').status).toBe('ok');
    expect(check((await s.doctor({ check: 'server' })).report, 'server').status).toBe('ok');
  });
});
