/**
 * The local server on a PostgreSQL backend store: the password never goes on
 * the server's command line nor into the service files (systemd unit, launchd
 * plist, Task Scheduler wrapper); the server reads it from a 0600 pgpass file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalServerConfig } from '../../src/adapters/config-store.js';
import { serverArgs } from '../../src/adapters/service/background.js';
import { renderPlist } from '../../src/adapters/service/launchd.js';
import { renderWrapper } from '../../src/adapters/service/schtasks.js';
import { renderUnit } from '../../src/adapters/service/systemd.js';
import { serverSpec, serviceSpecOf, writeServerSecrets } from '../../src/services/local-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'Pg:s3cr%t@x';
const URI = `postgresql+psycopg2://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/traces`;

function config(backendStoreUri: string, mlflowBin = '/data/venv/bin/mlflow'): LocalServerConfig {
  return { manager: 'systemd', mlflowBin, host: '127.0.0.1', port: 5000, backendStoreUri };
}

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

function expectNoPassword(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(encodeURIComponent(PASSWORD));
}

describe('the server on PostgreSQL', () => {
  it('gets the URI without the password (driver named) and PGPASSFILE in its environment', () => {
    const spec = serverSpec('/data', config(URI), { PATH: '/usr/bin' });
    expect(spec.backendStoreUri).toBe('postgresql+psycopg2://app@127.0.0.1:5432/traces');
    expect(spec.env).toEqual({ PATH: '/usr/bin', PGPASSFILE: '/data/pgpass' });
    expect(serverArgs(spec)).toContain('postgresql+psycopg2://app@127.0.0.1:5432/traces');
    expectNoPassword(serverArgs(spec).join(' '));
    // A bare postgresql:// (a hand-edited config) still runs on the driver we install.
    expect(serverSpec('/data', config('postgresql://app@127.0.0.1/traces')).backendStoreUri).toBe(
      'postgresql+psycopg2://app@127.0.0.1/traces',
    );
  });

  it('the systemd unit, launchd plist and Task Scheduler wrapper carry PGPASSFILE, never the password', () => {
    const unit = renderUnit(serviceSpecOf('/data', config(URI)));
    expect(unit).toContain('Environment="PGPASSFILE=/data/pgpass"');
    expect(unit).toContain('"postgresql+psycopg2://app@127.0.0.1:5432/traces"');
    expectNoPassword(unit);
    const plist = renderPlist(serviceSpecOf('/data', config(URI)));
    expect(plist).toContain('<key>PGPASSFILE</key>');
    expectNoPassword(plist);
    const wrapper = renderWrapper(serviceSpecOf('C:\\data', config(URI, 'C:\\data\\venv\\Scripts\\mlflow.exe'), undefined, 'win32'));
    expect(wrapper).toContain('set "PGPASSFILE=C:\\data/pgpass"');
    expectNoPassword(wrapper);
  });

  it('SQLite is unchanged: the URI as is, no PGPASSFILE', () => {
    const sqlite = 'sqlite:////data/mlflow.db';
    const spec = serverSpec('/data', config(sqlite));
    expect(spec.backendStoreUri).toBe(sqlite);
    expect(spec.env).toBeUndefined();
    expect(serviceSpecOf('/data', config(sqlite)).environment).toEqual({
      PYTHONUNBUFFERED: '1',
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
    });
  });

  it('writes the password file 0600 (libpq ignores a readable one), and removes it when no password is needed', () => {
    const file = path.join(tmp.path, 'pgpass');
    writeServerSecrets(tmp.path, config(URI));
    expect(readFileSync(file, 'utf8')).toBe('*:*:*:app:Pg\\:s3cr%t@x\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeServerSecrets(tmp.path, config(URI)); // unchanged: kept as is
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeServerSecrets(tmp.path, config('postgresql+psycopg2://app@127.0.0.1/traces'));
    expect(existsSync(file)).toBe(false);
    writeServerSecrets(tmp.path, config(URI));
    writeServerSecrets(tmp.path, config(`sqlite:///${tmp.path}/mlflow.db`));
    expect(existsSync(file)).toBe(false);
  });
});
