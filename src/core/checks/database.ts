/** The database group's SQLite checks (db-lock, db-health) and db-size; the pg-* checks are in postgres.ts. */
import { isPostgresUri } from '../backend-store.js';
import { commandLine } from '../shell-quote.js';
import { isolatedPython } from '../python-isolated.js';
import type { Check, CheckOutcome } from './check.js';
import type { Facts, SqliteProbeFacts } from './facts.js';
import { formatBytes, plural } from '../format.js';
import { formatAge } from './format.js';
import { ok, restartServer, skip } from './outcomes.js';
import { describeProcess, pidsOf } from './processes.js';

/** Past these, db-size suggests a cleanup. */
export const TRACE_COUNT_THRESHOLD = 20_000;
export const DB_SIZE_THRESHOLD = 1024 ** 3;
export const CLEANUP_AGE = '30d';

/** For db-lock and db-health: our local server's SQLite file and the venv's probe of it, or why there is none to check. */
function probedDatabase({
  context,
  database: db,
}: Pick<Facts, 'context' | 'database'>): { file: string; probe: SqliteProbeFacts } | CheckOutcome {
  if (!context.server) return skip('No local server.');
  if (isPostgresUri(context.server.backendStoreUri))
    return skip('Not applicable: the server stores traces in PostgreSQL (see pg-connection).');
  if (!db.file) return skip('The server does not use a SQLite file.');
  if (!db.exists) return skip(`No database yet (${db.file}).`);
  if (!db.probe) return skip(`Cannot probe the database: ${db.probeError ?? 'no Python'}.`);
  return { file: db.file, probe: db.probe };
}

export const dbLockCheck: Check = {
  id: 'db-lock',
  group: 'database',
  title: 'Database not locked',
  needs: ['context', 'database'],
  run({ context, database: db }) {
    const probed = probedDatabase({ context, database: db });
    if ('status' in probed) return probed;
    const { file, probe } = probed;
    const strays = db.holders.filter((h) => h.role === 'mlflow-server');
    const others = db.holders.filter((h) => h.role === 'other');
    const ours = db.holders.filter((h) => h.role === 'our-server');
    if (probe.lock === 'error') {
      return { status: 'fail', message: `Cannot open ${file}: ${probe.lockError ?? 'unknown error'}.` };
    }
    if (probe.lock === 'locked') {
      const details = [
        ...strays.map((h) => `a second MLflow server: ${describeProcess(h)}`),
        ...others.map((h) => `another writer: ${describeProcess(h)}`),
      ];
      if (strays.length || others.length) {
        const pids = pidsOf([...strays, ...others]);
        return {
          status: 'fail',
          message: `${file} is locked by ${strays.length ? 'a second MLflow server' : 'another process'}, not our server: the server cannot store traces.`,
          details: [...details, `Stop it yourself (kill ${pids.join(' ')}); doctor never stops a process it did not start.`],
          fix: { command: `kill ${pids.join(' ')}` },
        };
      }
      if (ours.length) {
        return {
          status: 'fail',
          message: `Our own server has held a write lock on ${file} for longer than the probe waited: a stuck writer.`,
          details: ours.map((h) => `our server: ${describeProcess(h)}`),
          fix: restartServer(context.cli),
        };
      }
      return { status: 'fail', message: `${file} is locked, by a process doctor cannot see.`, fix: { command: `fuser -v ${file}` } };
    }
    if (strays.length) {
      return {
        status: 'warn',
        message: 'A second MLflow server, not ours, has the database open: two servers on one SQLite file lock each other out.',
        details: strays.map(describeProcess),
        fix: { command: `kill ${strays.map((h) => h.pid).join(' ')}` },
      };
    }
    return ok(`a write transaction starts at once${ours.length ? ` (open by our server: ${ours.map((h) => h.pid).join(', ')})` : ''}`);
  },
};

export const dbHealthCheck: Check = {
  id: 'db-health',
  group: 'database',
  title: 'Database health',
  needs: ['context', 'database', 'python'],
  run({ context, database: db, python: p }) {
    const probed = probedDatabase({ context, database: db });
    if ('status' in probed) return probed;
    const { file, probe } = probed;
    const recover = `sqlite3 ${file} ".recover" | sqlite3 ${file}.recovered  # then stop the server and move the recovered file in place`;
    if (probe.quickCheckError) {
      return { status: 'fail', message: `${file} is damaged: ${probe.quickCheckError}.`, fix: { command: recover } };
    }
    const check = probe.quickCheck;
    if (check === undefined) return skip(`${file} is locked: quick_check could not read it (see db-lock).`);
    if (check && !(check.length === 1 && check[0] === 'ok')) {
      return {
        status: 'fail',
        message: `${file} is corrupted (PRAGMA quick_check).`,
        details: check.slice(0, 8),
        fix: { command: recover },
      };
    }
    const leftovers = probe.leftoverMigrationTables ?? [];
    if (leftovers.length > 0) return interruptedMigration(file, leftovers, context, p.pythonBin ?? 'python3');
    const details = [`journal mode ${probe.journalMode ?? '?'}`, `size ${formatBytes(db.sizeBytes)}`];
    if (check === null) details.push('quick_check skipped for a large file; run with --deep');
    return ok(
      `quick_check ${check === null ? 'skipped' : 'ok'}, journal mode ${probe.journalMode ?? '?'}, ${formatBytes(db.sizeBytes)}`,
      details,
    );
  },
};

/**
 * A schema migration cut short (two servers migrating one file at once, or a
 * kill): alembic's copy of a table is left, and MLflow's server will not
 * start. The repair: back up; where the table is still there the copy is
 * dropped, where it is gone the copy becomes it; then MLflow's own upgrade.
 */
function interruptedMigration(
  file: string,
  leftovers: NonNullable<SqliteProbeFacts['leftoverMigrationTables']>,
  context: Facts['context'],
  python: string,
): CheckOutcome {
  const statements = leftovers.map((l) => (l.originalExists ? `DROP TABLE ${l.table}` : `ALTER TABLE ${l.table} RENAME TO ${l.original}`));
  const repair = `import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); [c.execute(s) for s in sys.argv[2:]]; c.commit()`;
  const steps = [
    `${context.cli} server stop`,
    commandLine(['cp', file, `${file}.before-repair`]),
    commandLine(isolatedPython(python, '-c', repair, file, ...statements)),
    ...(context.server ? [commandLine([context.server.mlflowBin, 'db', 'upgrade', context.server.backendStoreUri])] : []),
    `${context.cli} server start`,
  ];
  return {
    status: 'fail',
    message: `A schema migration of ${file} was cut short (${leftovers.map((l) => l.table).join(', ')} left behind): MLflow's server does not start on it ("table ${leftovers[0]!.table} already exists").`,
    details: leftovers.map((l) =>
      l.originalExists
        ? `${l.table}: a leftover copy of ${l.original}, which is intact`
        : `${l.table}: holds ${l.original}, which the migration had already dropped`,
    ),
    fix: { command: steps.join(' && ') },
  };
}

/** db-size's warning, for SQLite and PostgreSQL alike. */
function tooLarge(summary: string, cli: string): CheckOutcome {
  return {
    status: 'warn',
    message: `${summary}: the database is getting large; delete old traces.`,
    fix: { command: `${cli} cleanup --older-than ${CLEANUP_AGE}` },
  };
}

export const dbSizeCheck: Check = {
  id: 'db-size',
  group: 'database',
  title: 'Traces stored',
  needs: ['context', 'database', 'postgres'],
  run({ context, database: db, postgres: pg }) {
    if (!context.server) return skip('No local server.');
    if (pg.applicable) {
      if (pg.sizeBytes === undefined) return skip('Database size unknown (see pg-connection).');
      const summary = `${formatBytes(pg.sizeBytes)} in ${pg.target ?? 'PostgreSQL'}`;
      if (pg.sizeBytes > DB_SIZE_THRESHOLD) {
        return tooLarge(summary, context.cli);
      }
      return ok(summary);
    }
    if (!db.file || !db.exists) return skip('No database yet.');
    if (!db.probe || db.probe.traceCount === undefined) {
      if (db.probe?.noTraceTable) return ok('no traces yet');
      return skip('Trace count unknown (see db-lock and db-health).');
    }
    const count = db.probe.traceCount;
    const oldest = db.probe.oldestMs ?? undefined;
    const age = oldest !== undefined ? ` oldest ${formatAge(db.nowMs - oldest)} old` : '';
    const summary = `${plural(count, 'trace')},${age || ' none yet'}, ${formatBytes(db.sizeBytes)}`;
    if (count > TRACE_COUNT_THRESHOLD || db.sizeBytes > DB_SIZE_THRESHOLD) {
      return tooLarge(summary, context.cli);
    }
    return ok(summary);
  },
};
