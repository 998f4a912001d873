/** Backend store URIs: parsing as SQLAlchemy does, validation, and the forms without the password. */
import { describe, expect, it } from 'vitest';
import {
  describePostgres,
  isPostgresUri,
  maskBackendStoreUri,
  parseBackendStoreUri,
  parsePostgresUri,
  pgpassLine,
  psycopg2Params,
  shortPostgres,
  uriWithoutCredentials,
  uriWithoutPassword,
  withPsycopg2,
  type PostgresStore,
} from '../../src/core/backend-store.js';

function pg(uri: string): PostgresStore {
  const parsed = parsePostgresUri(uri);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.store;
}

function error(uri: string): string {
  const parsed = parseBackendStoreUri(uri);
  if (parsed.ok) throw new Error(`${uri} parsed`);
  return parsed.error;
}

describe('parsePostgresUri', () => {
  it('reads user, password, host, port, database and query as SQLAlchemy does (user and password percent-decoded)', () => {
    expect(pg('postgresql://mlflow:p%40ss%3Aw%2Frd%25@db.local:6543/traces?sslmode=require')).toEqual({
      kind: 'postgresql',
      uri: 'postgresql://mlflow:p%40ss%3Aw%2Frd%25@db.local:6543/traces?sslmode=require',
      scheme: 'postgresql',
      user: 'mlflow',
      password: 'p@ss:w/rd%',
      host: 'db.local',
      port: 6543,
      database: 'traces',
      query: [['sslmode', 'require']],
    });
  });

  it('defaults the port, allows no password, postgresql+psycopg2, IPv6 and a Unix socket in ?host=', () => {
    expect(pg('postgresql+psycopg2://me@127.0.0.1/db')).toMatchObject({
      scheme: 'postgresql+psycopg2',
      user: 'me',
      port: 5432,
      database: 'db',
    });
    expect(pg('postgresql+psycopg2://me@127.0.0.1/db').password).toBeUndefined();
    expect(pg('postgresql://u:p@[::1]:5433/db')).toMatchObject({ host: '::1', port: 5433 });
    const socket = pg('postgresql://u@/db?host=/run/postgresql');
    expect(socket.host).toBeUndefined();
    expect(describePostgres(socket)).toBe('PostgreSQL database "db" on the socket in /run/postgresql (port 5432) as user "u"');
  });

  it('takes a password from ?password= too, and keeps it out of the query', () => {
    const store = pg('postgresql://u@h/db?password=secret1&sslmode=disable');
    expect(store.password).toBe('secret1');
    expect(store.query).toEqual([['sslmode', 'disable']]);
    expect(maskBackendStoreUri(store.uri)).toBe('postgresql://u@h/db?password=***&sslmode=disable');
    expect(uriWithoutPassword(store)).toBe('postgresql://u@h/db?sslmode=disable');
  });

  it.each([
    ['postgres://u:p@h/db', 'write postgresql://'],
    ['postgresql+psycopg://u:p@h/db', 'postgresql+psycopg2://'],
    ['mysql://u:p@h/db', 'mysql: is not supported'],
    ['postgresql://u:p@h:99999/db', 'port must be a number from 1 to 65535'],
    ['postgresql://u:p@h:abc/db', 'port must be a number'],
    ['postgresql://u:p@h', 'names no database'],
    ['postgresql://u:p@h/', 'names no database'],
    ['postgresql://u:p@h/a/b', 'has a /'],
    ['postgresql://u:p@/db', 'names no host'],
    ['postgresql://u:p@ss@h/db', 'raw @: percent-encode it as %40'],
    ['postgresql://u:p%zz@h/db', 'not a percent-escape'],
    ['postgresql://u:p w@h/db', 'space or a control character'],
    ['sqlite:///relative.db', 'absolute path'],
    ['sqlite:///:memory:', 'needs a file'],
    ['http://127.0.0.1:5000', 'http: is not supported'],
    ['just words', 'use postgresql://'],
  ])('refuses %s', (uri, why) => {
    expect(error(uri)).toContain(why);
  });

  it('accepts an SQLite file by absolute path', () => {
    expect(parseBackendStoreUri('sqlite:////data/mlflow.db')).toEqual({
      ok: true,
      store: { kind: 'sqlite', uri: 'sqlite:////data/mlflow.db', file: '/data/mlflow.db' },
    });
  });
});

describe('the URI without its password', () => {
  const uri = 'postgresql://mlflow:p%40ss%3Aw%2Frd%25@db.local:6543/traces?sslmode=require';

  it('masks the password for messages, keeping the user, host, port, database and query', () => {
    expect(maskBackendStoreUri(uri)).toBe('postgresql://mlflow:***@db.local:6543/traces?sslmode=require');
    expect(maskBackendStoreUri('postgresql+psycopg2://u:secret@[::1]/db')).toBe('postgresql+psycopg2://u:***@[::1]/db');
    expect(maskBackendStoreUri('postgresql://u@h/db')).toBe('postgresql://u@h/db');
    expect(maskBackendStoreUri('sqlite:////data/mlflow.db')).toBe('sqlite:////data/mlflow.db');
  });

  it('masks even a URI it cannot parse', () => {
    expect(maskBackendStoreUri('postgresql://u:p@ss@h/db')).toBe('postgresql://u:***@h/db');
    expect(maskBackendStoreUri('postgres://u:secret@h:1/db')).toBe('postgres://u:***@h:1/db');
    expect(maskBackendStoreUri('mysql://u:secret@h/db')).toBe('mysql://u:***@h/db');
  });

  it('drops the password (server command line) or the user and password (commands to copy)', () => {
    const store = pg(uri);
    expect(uriWithoutPassword(store)).toBe('postgresql://mlflow@db.local:6543/traces?sslmode=require');
    expect(uriWithoutCredentials(store)).toBe('postgresql://db.local:6543/traces?sslmode=require');
    expect(shortPostgres(store)).toBe('mlflow@db.local:6543/traces');
    expect(describePostgres(store)).toBe('PostgreSQL database "traces" on db.local:6543 as user "mlflow"');
  });

  it('names the driver we install (SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://)', () => {
    expect(withPsycopg2('postgresql://u@h/db')).toBe('postgresql+psycopg2://u@h/db');
    expect(withPsycopg2('postgresql+psycopg2://u@h/db')).toBe('postgresql+psycopg2://u@h/db');
    expect(withPsycopg2('sqlite:////x.db')).toBe('sqlite:////x.db');
  });

  it('writes the libpq password file line with : and \\ escaped', () => {
    expect(pgpassLine(pg(uri))).toBe('*:*:*:mlflow:p@ss\\:w/rd%\n');
    expect(pgpassLine(pg('postgresql://a%3Ab:x%5Cy@h/db'))).toBe('*:*:*:a\\:b:x\\\\y\n');
    expect(pgpassLine(pg('postgresql://u@h/db'))).toBeUndefined();
  });

  it('gives psycopg2 the libpq keywords, the query included', () => {
    expect(psycopg2Params(pg(uri))).toEqual({
      dbname: 'traces',
      port: 6543,
      host: 'db.local',
      user: 'mlflow',
      password: 'p@ss:w/rd%',
      sslmode: 'require',
    });
  });

  it('tells PostgreSQL URIs from others', () => {
    expect(isPostgresUri('postgresql+psycopg2://h/db')).toBe(true);
    expect(isPostgresUri('postgres://h/db')).toBe(true);
    expect(isPostgresUri('sqlite:////x.db')).toBe(false);
    expect(isPostgresUri(undefined)).toBe(false);
  });
});
