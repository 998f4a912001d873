/** The database group's checks of a PostgreSQL backend store: connection, connections in use, schema. */
import { PSYCOPG2_REQUIREMENT } from '../backend-store.js';
import { commandLine } from '../shell-quote.js';
import { isolatedPython } from '../python-isolated.js';
import type { Check, CheckOutcome } from './check.js';
import type { Facts } from './facts.js';
import { ok, skip, startServer } from './outcomes.js';

/** pg-connections warns from this share of the connections PostgreSQL allows. */
export const PG_CONNECTIONS_WARN = 0.8;

/** For the pg-* checks: why there is no PostgreSQL store of ours to check, if there is none. */
function noPostgres({ context, postgres: pg }: Pick<Facts, 'context' | 'postgres'>): CheckOutcome | undefined {
  if (!context.server) return skip('No local server.');
  if (!pg.applicable) return skip('Not applicable: the server stores traces in SQLite (see db-lock).');
  return undefined;
}

/** For the checks after pg-connection: our server's PostgreSQL, connected, or why there is nothing to check. */
function connectedPostgres(facts: Pick<Facts, 'context' | 'postgres'>): CheckOutcome | undefined {
  const none = noPostgres(facts);
  if (none) return none;
  if (facts.postgres.probeError || facts.postgres.driverError || facts.postgres.connectError)
    return skip('Not connected (see pg-connection).');
  return undefined;
}

export const pgConnectionCheck: Check = {
  id: 'pg-connection',
  group: 'database',
  title: 'PostgreSQL connection',
  needs: ['context', 'postgres'],
  run({ context, postgres: pg }) {
    const none = noPostgres({ context, postgres: pg });
    if (none) return none;
    const target = pg.target ?? 'the PostgreSQL database';
    if (pg.probeError)
      return { status: 'fail', message: `Cannot check ${target}: ${pg.probeError}.`, fix: { command: `${context.cli} init` } };
    if (pg.driverError) {
      return {
        status: 'fail',
        message: `The PostgreSQL driver psycopg2 does not import in ${pg.python ?? "the venv's Python"}: MLflow's server cannot reach ${target}.`,
        details: [pg.driverError],
        fix: {
          command: pg.python
            ? commandLine(isolatedPython(pg.python, '-m', 'pip', 'install', PSYCOPG2_REQUIREMENT), context.platform)
            : `${context.cli} init`,
        },
      };
    }
    if (pg.connectError) {
      const ready = [
        'pg_isready',
        ...(pg.host ? ['-h', pg.host] : []),
        ...(pg.port ? ['-p', String(pg.port)] : []),
        ...(pg.database ? ['-d', pg.database] : []),
      ];
      return {
        status: 'fail',
        message: `Cannot connect to ${target}: ${pg.connectError.replace(/\.$/, '')}. The server cannot store traces; they are spooled meanwhile.`,
        details: [
          'Is PostgreSQL running there, and are the user and password in `--backend-store-uri` right? (`init --backend-store-uri …` changes them.)',
        ],
        fix: { command: commandLine(ready, context.platform) },
      };
    }
    if (pg.queryError) return { status: 'fail', message: `Connected to ${target}, but a catalog query failed: ${pg.queryError}.` };
    const details = [`driver psycopg2 ${pg.driver ?? '?'} (${pg.python ?? '?'})`];
    return ok(
      `PostgreSQL ${pg.serverVersion ?? '?'}, ${target}${pg.connectMs !== undefined ? ` (connected in ${pg.connectMs} ms)` : ''}`,
      details,
    );
  },
};

export const pgConnectionsCheck: Check = {
  id: 'pg-connections',
  group: 'database',
  title: 'PostgreSQL connections in use',
  needs: ['context', 'postgres'],
  run({ context, postgres: pg }) {
    const none = connectedPostgres({ context, postgres: pg });
    if (none) return none;
    if (pg.connections === undefined || pg.maxConnections === undefined) return skip('Connection counts unknown (see pg-connection).');
    const limit = Math.max(1, pg.maxConnections - (pg.reservedConnections ?? 0));
    const share = pg.connections / limit;
    const summary = `${pg.connections} of ${limit} connections in use (${Math.round(share * 100)}%; max_connections ${pg.maxConnections}, ${pg.reservedConnections ?? 0} reserved for superusers)`;
    if (share >= PG_CONNECTIONS_WARN) {
      return {
        status: 'warn',
        message: `${summary}: near the limit, where PostgreSQL refuses new connections and MLflow's server cannot store traces.`,
        fix: {
          command:
            'close idle sessions (SELECT pid, usename, application_name, state FROM pg_stat_activity), or raise max_connections in postgresql.conf and restart PostgreSQL',
        },
      };
    }
    return ok(summary);
  },
};

export const pgMigrationCheck: Check = {
  id: 'pg-migration',
  group: 'database',
  title: "Database schema matches MLflow's migrations",
  needs: ['context', 'postgres'],
  run({ context, postgres: pg }) {
    const none = connectedPostgres({ context, postgres: pg });
    if (none) return none;
    const schema = pg.schema;
    if (!schema) return skip('Schema revision unknown (see pg-connection).');
    if (schema.headError) return skip(`Cannot tell which schema the installed MLflow expects: ${schema.headError}.`);
    if (schema.current === null) {
      return {
        status: 'warn',
        message: `${pg.target ?? 'The database'} has no MLflow schema yet (no alembic_version table): the server creates it when it starts.`,
        fix: startServer(context.cli),
      };
    }
    if (schema.current === schema.head) return ok(`at revision ${schema.current}, the newest the installed MLflow knows`);
    if (schema.known === false) {
      return {
        status: 'fail',
        message: `The database schema is at revision ${schema.current}, which the installed MLflow does not know (it expects ${schema.head}): a newer MLflow upgraded it, and this one's server refuses to start on it.`,
        fix: { command: `install that newer MLflow: ${context.cli} init --mlflow-version <the newer version>` },
      };
    }
    const upgrade = pg.upgradeCommand ?? 'mlflow db upgrade <backend store URI>';
    return {
      status: 'fail',
      message: `The database schema is at revision ${schema.current}, but the installed MLflow expects ${schema.head}: MLflow's server refuses to start until the database is upgraded.`,
      details: ["Back up the database first (pg_dump): the migration changes MLflow's tables."],
      fix: { command: `${context.cli} server stop; ${upgrade} && ${context.cli} server start` },
    };
  },
};
