/**
 * A real PostgreSQL for the tests.
 *
 * In CI, `.ci/run` starts one server (scripts/test-postgres.sh) and exports
 * CLAUDE_MLFLOW_TEST_PG_DIR (its socket folder) and CLAUDE_MLFLOW_TEST_PG_PORT:
 * each startPostgres() then creates a role and a database of its own there,
 * with unique names, and stop() drops them.
 *
 * Elsewhere (a developer's `npm test`), each startPostgres() starts a
 * throwaway cluster of its own: Debian's own binaries
 * (/usr/lib/postgresql/<version>/bin, from the `postgresql` package that
 * `.ci/run` installs), a fresh cluster in a temp folder, listening on
 * 127.0.0.1 only, on a free port, with its Unix socket in the temp folder.
 * Nothing of the system's own cluster is used (it need not be running).
 * CLAUDE_MLFLOW_TEST_PG_ROOT replaces /usr/lib/postgresql as the folder
 * searched for those binaries (.ci/run points it at an empty folder to run
 * the tests as on a machine without PostgreSQL).
 *
 * The superuser `postgres` logs in over the socket only (trust); the
 * database user logs in over TCP with a password (scram-sha-256), as MLflow
 * will.
 *
 * PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the
 * `postgres` system user (`runuser -u postgres --`, else `su postgres -c`),
 * and the temp folder is chowned to it. Clients (psql) run as the caller.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { freePort } from './ports.js';

export interface Postgres {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** The folder that holds the server's Unix socket (and, for a cluster of our own, the cluster and its log). */
  dir: string;
  /** The server's max_connections. */
  maxConnections: number;
  /** `postgresql://user:password@127.0.0.1:port/database`, the user and password percent-encoded. */
  uri: string;
  /** SQL as the superuser, over the socket; returns psql's unaligned output. */
  sql(statement: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Where Debian puts PostgreSQL's versioned binaries, unless the environment says otherwise (see above). */
const postgresRoot = (): string => process.env.CLAUDE_MLFLOW_TEST_PG_ROOT || '/usr/lib/postgresql';

/** The newest <root>/<version>/bin that has initdb and pg_ctl, if any. */
export function postgresBinDir(root = postgresRoot()): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, 'bin');
    if (existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

/** A cluster of our own: little memory on a small machine. */
const OWN_MAX_CONNECTIONS = 40;

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Run a server-side PostgreSQL program: as `postgres` when we are root. */
async function asServerUser(file: string, args: string[], timeoutMs = 120_000): Promise<void> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' };
  let cmd = file;
  let argv = args;
  if (isRoot()) {
    if (hasCommand('runuser')) {
      cmd = 'runuser';
      argv = ['-u', 'postgres', '--', file, ...args];
    } else {
      const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
      cmd = 'su';
      argv = ['postgres', '-s', '/bin/sh', '-c', [file, ...args].map(quote).join(' ')];
    }
  }
  const r = await execa(cmd, argv, { env, extendEnv: false, reject: false, stdin: 'ignore', timeout: timeoutMs, cwd: '/' });
  if (r.exitCode !== 0) throw new Error(`${[file, ...args].join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr || r.stdout).trim()}`);
}

export interface StartPostgresOptions {
  database?: string;
  user?: string;
  /** Default: one with characters that must be percent-encoded in a URI (: @ / %). */
  password?: string;
}

const randomSuffix = (): string => Math.random().toString(36).slice(2, 8);

/** The psql runner for a server whose socket is in `dir`. */
function sqlRunner(bin: string, dir: string, port: number): Postgres['sql'] {
  return async (statement: string, db = 'postgres') => {
    const r = await execa(
      path.join(bin, 'psql'),
      ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', '-c', statement],
      {
        env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 60_000,
      },
    );
    if (r.exitCode !== 0) throw new Error(`psql ${statement}: ${String(r.stderr).trim()}`);
    return String(r.stdout).trim();
  };
}

type Login = Pick<Postgres, 'host' | 'port' | 'database' | 'user' | 'password' | 'uri'>;

/** The role and database the tests log in as (over TCP, with a password), created as the superuser. */
async function createLogin(sql: Postgres['sql'], login: Omit<Login, 'uri'>): Promise<Login> {
  const { host, port, database, user, password } = login;
  await sql(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
  await sql(`CREATE DATABASE ${database} OWNER ${user}`);
  return { ...login, uri: `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}` };
}

function testPassword(given: string | undefined): string {
  const password = given ?? `pg:S3cret@${randomSuffix()}${randomSuffix()}/%x`;
  if (/['\\]/.test(password)) throw new Error('keep quotes and backslashes out of the test password');
  return password;
}

/** On the server that .ci/run started: a role and a database of our own, dropped again by stop(). */
async function onSharedServer(bin: string, options: StartPostgresOptions): Promise<Postgres> {
  const dir = process.env.CLAUDE_MLFLOW_TEST_PG_DIR!;
  const port = Number(process.env.CLAUDE_MLFLOW_TEST_PG_PORT);
  const suffix = randomSuffix();
  const database = `${options.database ?? 'mlflow_traces'}_${suffix}`;
  const user = `${options.user ?? 'mlflow_app'}_${suffix}`;
  const password = testPassword(options.password);
  const sql = sqlRunner(bin, dir, port);
  const login = await createLogin(sql, { host: '127.0.0.1', port, database, user, password });
  const created: string[] = [];
  return {
    ...login,
    dir,
    maxConnections: Number(await sql('SHOW max_connections')),
    async sql(statement: string, db = 'postgres') {
      const made = /^CREATE DATABASE (\w+)/i.exec(statement)?.[1];
      const out = await sql(statement, db);
      if (made) created.push(made);
      return out;
    },
    async stop() {
      for (const db of [...created, database]) await sql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS ${user}`).catch(() => undefined);
    },
  };
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`no PostgreSQL binaries in ${postgresRoot()}/<version>/bin: apt-get install postgresql (.ci/run does)`);
  if (process.env.CLAUDE_MLFLOW_TEST_PG_DIR && process.env.CLAUDE_MLFLOW_TEST_PG_PORT) return onSharedServer(bin, options);
  const database = options.database ?? 'mlflow_traces';
  const user = options.user ?? 'mlflow_app';
  const password = testPassword(options.password);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'claude-mlflow-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'postgres.log');
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  chmodSync(dir, 0o700);
  const port = await freePort();
  const host = '127.0.0.1';

  let started = false;
  const stop = async (): Promise<void> => {
    if (started) {
      await asServerUser(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'], 90_000).catch(() => undefined);
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await asServerUser(path.join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    const settings = [
      `-c listen_addresses=${host}`,
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      // A test cluster: speed over durability, and little memory on a small machine.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c shared_buffers=16MB',
      `-c max_connections=${OWN_MAX_CONNECTIONS}`,
    ].join(' ');
    await asServerUser(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start'], 90_000);
    started = true;

    const sql = sqlRunner(bin, dir, port);
    const pg: Postgres = {
      ...(await createLogin(sql, { host, port, database, user, password })),
      dir,
      maxConnections: OWN_MAX_CONNECTIONS,
      sql,
      stop,
    };
    return pg;
  } catch (error) {
    let tail = '';
    try {
      tail = execFileSync('tail', ['-n', '20', log], { encoding: 'utf8' });
    } catch {
      // no log
    }
    await stop();
    throw new Error(`${(error as Error).message}${tail ? `\n${tail}` : ''}`);
  }
}
