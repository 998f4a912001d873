/**
 * The local server's backend store URI: SQLite (the default, a file in the
 * data folder) or PostgreSQL (`init --backend-store-uri postgresql://…`).
 * Pure: parsing, validation, and the forms of the URI that may be shown or
 * passed on without its password.
 *
 * PostgreSQL URIs are parsed the way MLflow's SQLAlchemy parses them
 * (`sqlalchemy.engine.url.make_url`, SQLAlchemy 2.0): `name://user:password@
 * host:port/database?query`, with the user and the password percent-decoded.
 * A raw `@` in the password would make SQLAlchemy read part of it as the host,
 * so it is refused: it must be written `%40`.
 */
import { isAbsolute, resolve } from 'node:path';

/**
 * The PostgreSQL driver MLflow's server needs for a `postgresql://` backend
 * store (SQLAlchemy's default PostgreSQL driver; MLflow does not install it).
 * Pinned: 2.9.11 has wheels for CPython 3.10–3.14 on Linux (glibc and musl),
 * macOS and Windows, so it never builds from source (pg_config, a compiler).
 */
export const PSYCOPG2_REQUIREMENT = 'psycopg2-binary==2.9.11';

export const POSTGRES_SCHEMES = ['postgresql', 'postgresql+psycopg2'] as const;
export const POSTGRES_DEFAULT_PORT = 5432;
export const MASK = '***';

export interface PostgresStore {
  kind: 'postgresql';
  uri: string;
  scheme: string;
  /** Decoded; undefined when the URI names none (libpq then uses the OS user). */
  user?: string;
  /** Decoded; from the userinfo or a `password=` query parameter. */
  password?: string;
  /** undefined with a Unix-socket URI (`?host=/run/postgresql`). */
  host?: string;
  port: number;
  database: string;
  /** The query parameters (sslmode, host, …), password excluded. */
  query: Array<[string, string]>;
}

export interface SqliteStore {
  kind: 'sqlite';
  uri: string;
  file: string;
}

export type BackendStore = PostgresStore | SqliteStore;

export type Parsed<T> = { ok: true; store: T } | { ok: false; error: string };

/** SQLAlchemy 2.0's URL pattern (sqlalchemy/engine/url.py `_parse_url`), anchored. */
const SQLALCHEMY_URL =
  /^(?<name>[\w+]+):\/\/(?:(?<username>[^:/]*)(?::(?<password>[^@]*))?@)?(?:(?:\[(?<ipv6host>[^/?]+)\]|(?<ipv4host>[^/:?]+))?(?::(?<port>[^/?]*))?)?(?:\/(?<database>[^?]*))?(?:\?(?<query>.*))?$/s;

const PASSWORD_KEYS = new Set(['password']);

export function isPostgresUri(uri: string | undefined): boolean {
  return /^postgres(ql)?(\+[\w]+)?:\/\//i.test(uri ?? '');
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`the ${what} has a % that is not a percent-escape (write a literal % as %25)`);
  }
}

function parseQuery(query: string): Array<[string, string]> {
  if (!query) return [];
  return query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      const key = i < 0 ? pair : pair.slice(0, i);
      const value = i < 0 ? '' : pair.slice(i + 1);
      return [decode(key.replace(/\+/g, ' '), 'query'), decode(value.replace(/\+/g, ' '), 'query')];
    });
}

/** A PostgreSQL backend store URI, or why it is not one we can use. */
export function parsePostgresUri(uri: string): Parsed<PostgresStore> {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\x00-\x20\x7f]/.test(uri)) return { ok: false, error: 'it contains a space or a control character (percent-encode them)' };
  const m = SQLALCHEMY_URL.exec(uri);
  const g = m?.groups;
  if (!g) return { ok: false, error: 'it is not a URL of the form postgresql://user:password@host:port/database' };
  const scheme = g.name!.toLowerCase();
  if (scheme === 'postgres') return { ok: false, error: 'SQLAlchemy (which MLflow uses) does not accept postgres://; write postgresql://' };
  if (!(POSTGRES_SCHEMES as readonly string[]).includes(scheme)) {
    return {
      ok: false,
      error: `the scheme must be postgresql:// or postgresql+psycopg2:// (psycopg2 is the driver we install), not ${scheme}://`,
    };
  }
  const host = g.ipv6host ?? g.ipv4host ?? undefined;
  if (host?.includes('@')) return { ok: false, error: 'the password has a raw @: percent-encode it as %40' };
  let query: Array<[string, string]>;
  let user: string | undefined;
  let password: string | undefined;
  try {
    query = parseQuery(g.query ?? '');
    user = g.username ? decode(g.username, 'user name') : undefined;
    password = g.password !== undefined ? decode(g.password, 'password') : undefined;
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const queryHost = query.find(([k]) => k === 'host')?.[1];
  if (!host && !queryHost) return { ok: false, error: 'it names no host (postgresql://user:password@HOST:port/database)' };
  let port = POSTGRES_DEFAULT_PORT;
  if (g.port !== undefined && g.port !== '') {
    port = Number(g.port);
    if (!/^\d+$/.test(g.port) || port < 1 || port > 65535)
      return { ok: false, error: `the port must be a number from 1 to 65535, not "${g.port}"` };
  }
  const database = g.database ?? '';
  if (!database) return { ok: false, error: 'it names no database (postgresql://user:password@host:port/DATABASE)' };
  if (database.includes('/')) return { ok: false, error: `the database name "${database}" has a /` };
  const queryPassword = query.find(([k]) => PASSWORD_KEYS.has(k))?.[1];
  return {
    ok: true,
    store: {
      kind: 'postgresql',
      uri,
      scheme,
      ...(user ? { user } : {}),
      ...(password || queryPassword ? { password: password || queryPassword } : {}),
      ...(host ? { host } : {}),
      port,
      database,
      query: query.filter(([k]) => !PASSWORD_KEYS.has(k)),
    },
  };
}

/**
 * The same URI with the driver named: `postgresql+psycopg2://`. SQLAlchemy's
 * default driver for a bare `postgresql://` is psycopg2 up to 2.0 but psycopg
 * (3) from 2.1 (MLflow 3.12 installs SQLAlchemy 2.1): naming it makes MLflow
 * use the driver we install, whichever SQLAlchemy the venv has.
 */
export function withPsycopg2(uri: string): string {
  return uri.replace(/^postgresql(\+psycopg2)?:\/\//i, 'postgresql+psycopg2://');
}

/** `sqlite:////abs/mlflow.db` → `/abs/mlflow.db` (a relative path from `dataRoot`); undefined for any other store. */
export function sqliteFile(backendStoreUri: string, dataRoot: string): string | undefined {
  const m = /^sqlite:\/\/\/(.*)$/.exec(backendStoreUri);
  if (!m?.[1] || m[1] === ':memory:') return undefined;
  const file = m[1].split('?')[0]!;
  return isAbsolute(file) ? file : resolve(dataRoot, file);
}

/** Any backend store URI we can run the local server with: PostgreSQL, or SQLite with an absolute path. */
export function parseBackendStoreUri(uri: string): Parsed<BackendStore> {
  const sqlite = /^sqlite:\/\/\/(.*)$/.exec(uri);
  if (sqlite) {
    const file = (sqlite[1] ?? '').split('?')[0]!;
    if (!file || file === ':memory:') return { ok: false, error: 'an SQLite URI needs a file: sqlite:////absolute/path/mlflow.db' };
    if (!file.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(file)) {
      return {
        ok: false,
        error: 'the SQLite file must be an absolute path (sqlite:////absolute/path/mlflow.db): the server runs in the data folder',
      };
    }
    return { ok: true, store: { kind: 'sqlite', uri, file } };
  }
  if (isPostgresUri(uri)) return parsePostgresUri(uri);
  const scheme = /^([\w+.-]+):/.exec(uri)?.[1];
  return {
    ok: false,
    error: scheme
      ? `${scheme}: is not supported: use postgresql://user:password@host:port/database`
      : 'use postgresql://user:password@host:port/database',
  };
}

/** The text between `scheme://` and the last `@` of the authority, for URIs we could not parse. */
function maskLoosely(uri: string): string {
  return uri.replace(/^([\w+.-]+:\/\/[^:/@]*:)[^/]*@/, `$1${MASK}@`).replace(/([?&]password=)[^&]*/gi, `$1${MASK}`);
}

/** Rebuild a parsed PostgreSQL URI with the password given (MASK, or nothing at all). */
function rebuild(store: PostgresStore, password: 'mask' | 'drop' | 'no-user'): string {
  const m = SQLALCHEMY_URL.exec(store.uri)!.groups!;
  const userinfo =
    password !== 'no-user' && (m.username !== undefined || m.password !== undefined)
      ? `${m.username ?? ''}${m.password !== undefined && password === 'mask' ? `:${MASK}` : ''}@`
      : '';
  const hostPart = m.ipv6host !== undefined ? `[${m.ipv6host}]` : (m.ipv4host ?? '');
  const port = m.port !== undefined ? `:${m.port}` : '';
  const query = (m.query ?? '')
    .split('&')
    .filter(Boolean)
    .flatMap((pair) => {
      const key = pair.split('=')[0] ?? '';
      if (!PASSWORD_KEYS.has(key.toLowerCase())) return [pair];
      return password === 'mask' ? [`${key}=${MASK}`] : [];
    })
    .join('&');
  return `${m.name}://${userinfo}${hostPart}${port}/${m.database ?? ''}${query ? `?${query}` : ''}`;
}

/** The URI with its password replaced by ***: for every message, summary and status. */
export function maskBackendStoreUri(uri: string): string {
  if (!isPostgresUri(uri)) return maskLoosely(uri);
  const parsed = parsePostgresUri(uri);
  return parsed.ok ? rebuild(parsed.store, 'mask') : maskLoosely(uri);
}

/** The URI with no password at all: what the server's command line gets (the password goes to a pgpass file). */
export function uriWithoutPassword(store: PostgresStore): string {
  return rebuild(store, 'drop');
}

/** The URI with neither user nor password (libpq then takes them from PGUSER and PGPASSFILE): for commands to copy. */
export function uriWithoutCredentials(store: PostgresStore): string {
  return rebuild(store, 'no-user');
}

/** `"mlflow" on 127.0.0.1:5432 as user "me"`: host, port, database and user, never the password. */
export function describePostgres(store: PostgresStore): string {
  const where = store.host
    ? `${store.host.includes(':') ? `[${store.host}]` : store.host}:${store.port}`
    : `the socket in ${store.query.find(([k]) => k === 'host')?.[1] ?? '?'} (port ${store.port})`;
  return `PostgreSQL database "${store.database}" on ${where}${store.user ? ` as user "${store.user}"` : ''}`;
}

/** `user@host:port/database`, short, for status lines. */
export function shortPostgres(store: PostgresStore): string {
  const host = store.host ? (store.host.includes(':') ? `[${store.host}]` : store.host) : 'socket';
  return `${store.user ? `${store.user}@` : ''}${host}:${store.port}/${store.database}`;
}

/** One libpq password-file line (https://www.postgresql.org/docs/current/libpq-pgpass.html): `:` and `\` escaped. */
export function pgpassLine(store: PostgresStore): string | undefined {
  if (store.password === undefined) return undefined;
  const esc = (s: string): string => s.replace(/[\\:]/g, '\\$&');
  // Any host, port and database: the file is read only by our server's processes, which connect to this one database.
  return `*:*:*:${store.user ? esc(store.user) : '*'}:${esc(store.password)}\n`;
}

/** The connection parameters psycopg2.connect takes (libpq keywords), for the probes. */
export function psycopg2Params(store: PostgresStore): Record<string, string | number> {
  const params: Record<string, string | number> = { dbname: store.database, port: store.port };
  if (store.host) params.host = store.host;
  if (store.user) params.user = store.user;
  if (store.password !== undefined) params.password = store.password;
  for (const [k, v] of store.query) params[k] = v;
  return params;
}
