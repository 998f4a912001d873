/**
 * Setting up the local server's PostgreSQL store: what `init
 * --backend-store-uri postgresql://…` and `migrate --to postgresql://…` check
 * and install before they start the server on PostgreSQL, and the driver
 * `doctor --fix` installs. Every message names the host, port, database and
 * user, never the password.
 *
 * The driver: MLflow's server reaches PostgreSQL through SQLAlchemy's default
 * driver, psycopg2, which MLflow does not install. Into our own venv init
 * installs the pinned `psycopg2-binary`. With `--mlflow PATH`, the
 * environment is the user's: init does not change it, it checks that the
 * driver imports there and otherwise stops (nothing written) with the one
 * command that installs it.
 */
import { connect } from 'node:net';
import { describePostgres, parsePostgresUri, type PostgresStore } from '../../core/backend-store.js';
import { commandLine } from '../../core/shell-quote.js';
import { isolatedPython } from '../../core/python-isolated.js';
import { pythonForMlflow } from '../mlflow-python.js';
import { runPostgresProbe } from './postgres-probe.js';
import { importedVersion, installIntoPython, PSYCOPG2_REQUIREMENT } from '../../adapters/python.js';
import { CliError, EXIT } from '../../errors.js';

/** Seconds the connection check waits for PostgreSQL. */
export const CONNECT_TIMEOUT_S = 5;

/** The PostgreSQL store behind a backend store URI, if it is one. */
export function postgresStoreOf(uri: string): PostgresStore | undefined {
  const parsed = parsePostgresUri(uri);
  return parsed.ok ? parsed.store : undefined;
}

/** A TCP connection to host:port, before anything is installed: a wrong host or port fails in seconds, not after installing MLflow. */
export async function checkReachable(store: PostgresStore, timeoutMs = CONNECT_TIMEOUT_S * 1000): Promise<void> {
  if (!store.host) return; // a Unix socket: the connection check says it
  const host = store.host;
  const error = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port: store.port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${Math.round(timeoutMs / 1000)} s`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
  });
  if (error) {
    throw new CliError(
      `cannot reach ${describePostgres(store)} (${error}): is PostgreSQL running and listening there? Nothing was changed.`,
      EXIT.failure,
    );
  }
}

/** The command that installs the driver into the environment of `python`. */
export function driverInstallCommand(python: string): string {
  return commandLine(isolatedPython(python, '-m', 'pip', 'install', PSYCOPG2_REQUIREMENT));
}

/** `--mlflow PATH`: the driver must already import in that mlflow's Python. Returns psycopg2's version. */
export async function checkGivenDriver(mlflowBin: string, env: NodeJS.ProcessEnv): Promise<string> {
  const python = pythonForMlflow(mlflowBin);
  const version = await importedVersion(python, 'psycopg2', env);
  if (version) return version;
  throw new CliError(
    `MLflow at ${mlflowBin} cannot reach PostgreSQL: its Python (${python}) has no psycopg2 driver, and init does not change an environment it did not create. ` +
      `Install it with \`${driverInstallCommand(python)}\` and run init again; nothing was changed.`,
    EXIT.failure,
  );
}

/** Our venv: the pinned driver, installed unless some psycopg2 already imports. */
export async function ensureDriver(
  mlflowBin: string,
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void,
): Promise<{ version: string; installed: boolean; tool?: 'uv' | 'pip' }> {
  const python = pythonForMlflow(mlflowBin);
  const present = await importedVersion(python, 'psycopg2', env);
  if (present) return { version: present, installed: false };
  const { tool } = await installIntoPython({ pythonBin: python, requirements: [PSYCOPG2_REQUIREMENT], env, onLine });
  const version = await importedVersion(python, 'psycopg2', env);
  if (!version)
    throw new CliError(`installed ${PSYCOPG2_REQUIREMENT} with ${python}, but psycopg2 still does not import there`, EXIT.failure);
  return { version, installed: true, tool };
}

/** Connect with the driver MLflow will use, and `SELECT 1`. Returns the server's version. */
export async function verifyConnection(mlflowBin: string, store: PostgresStore, env: NodeJS.ProcessEnv): Promise<string> {
  const python = pythonForMlflow(mlflowBin);
  const probe = await runPostgresProbe(python, store, { mode: 'connect', timeoutS: CONNECT_TIMEOUT_S, env });
  const target = describePostgres(store);
  const secret = store.password && store.password.length >= 4 ? store.password : undefined;
  const fail = (why: string): never => {
    const text = secret ? why.split(secret).join('***') : why;
    throw new CliError(`cannot connect to ${target}: ${text}. Nothing was written to your settings.`, EXIT.failure);
  };
  if (probe.error) fail(`the check with ${python} did not run (${probe.error})`);
  if (probe.driverError) fail(`psycopg2 does not import in ${python} (${probe.driverError})`);
  if (probe.connectError) fail(probe.connectError.replace(/\.$/, ''));
  if (probe.queryError) fail(probe.queryError.replace(/\.$/, ''));
  return probe.serverVersion ?? '?';
}
