/**
 * The local server's settings, in every way we start it: one uvicorn worker,
 * and MLflow's job execution off unless `init --server-jobs` turned it on
 * (config.json's `server.jobExecution`; a config written before there was a
 * choice has no such field and gets the default). The background process gets
 * them on its command line and environment; the systemd unit, the launchd
 * plist and the Task Scheduler wrapper carry the same. A service file that an
 * older version wrote is rewritten by `server start` and `server restart`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalServerConfig } from '../../src/adapters/config-store.js';
import { serverArgs } from '../../src/adapters/service/background.js';
import { renderPlist } from '../../src/adapters/service/launchd.js';
import { renderWrapper } from '../../src/adapters/service/schtasks.js';
import { renderUnit } from '../../src/adapters/service/systemd.js';
import { ensureServerRunning, restartServer, serverSpec, serviceSpecOf, sqliteUri } from '../../src/services/local-server.js';
import { callsFile, fakePath, makeFakeBin, readCalls } from '../helpers/fake-bin.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/** config.json's server record as an older version wrote it: no jobExecution. */
function olderRecord(overrides: Partial<LocalServerConfig> = {}): LocalServerConfig {
  return {
    manager: 'systemd',
    mlflowBin: '/data/venv/bin/mlflow',
    host: '127.0.0.1',
    port: 5000,
    backendStoreUri: 'sqlite:////data/mlflow.db',
    ...overrides,
  };
}

const windows = (server: LocalServerConfig): LocalServerConfig => ({ ...server, mlflowBin: 'C:\\data\\venv\\Scripts\\mlflow.exe' });

/** What each way of starting the server carries: its arguments and the job execution setting. */
function everyWay(server: LocalServerConfig) {
  const spec = serverSpec('/data', server, { PATH: '/usr/bin' });
  return {
    background: { args: serverArgs(spec), jobExecution: spec.jobExecution },
    systemd: renderUnit(serviceSpecOf('/data', server)),
    launchd: renderPlist(serviceSpecOf('/data', server)),
    schtasks: renderWrapper(serviceSpecOf('C:\\data', windows(server), undefined, 'win32')),
  };
}

describe('the server settings in every way we start it', () => {
  it('one worker and job execution off by default, also for a config.json written before the choice existed', () => {
    for (const server of [olderRecord(), olderRecord({ jobExecution: false })]) {
      const way = everyWay(server);
      expect(way.background.jobExecution).toBe(false);
      expect(way.background.args.slice(-2)).toEqual(['--workers', '1']);
      expect(way.systemd).toContain('Environment="MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"');
      expect(way.systemd).toContain('"--workers" "1"');
      expect(way.launchd).toContain('<key>MLFLOW_SERVER_ENABLE_JOB_EXECUTION</key>\n\t\t<string>false</string>');
      expect(way.launchd).toContain('<string>--workers</string>\n\t\t<string>1</string>');
      expect(way.schtasks).toContain('set "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"');
      expect(way.schtasks).toContain(' --workers 1 ');
    }
  });

  it('job execution on where init --server-jobs recorded it, still on one worker', () => {
    const way = everyWay(olderRecord({ jobExecution: true }));
    expect(way.background.jobExecution).toBe(true);
    expect(way.background.args.slice(-2)).toEqual(['--workers', '1']);
    expect(way.systemd).toContain('Environment="MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true"');
    expect(way.launchd).toContain('<key>MLFLOW_SERVER_ENABLE_JOB_EXECUTION</key>\n\t\t<string>true</string>');
    expect(way.schtasks).toContain('set "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true"');
  });
});

describe('a systemd unit that an older version wrote', () => {
  let tmp: TempDir;
  let health: Server;
  let server: LocalServerConfig;
  let env: NodeJS.ProcessEnv;
  let bin: string;
  let unitFile: string;

  beforeEach(async () => {
    tmp = await makeTempDir('claude-mlflow-settings-');
    // The server's /health (and 404 for the warm-up requests that follow it).
    health = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? 200 : 404;
      res.end(req.url === '/health' ? 'OK' : '');
    });
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    const data = path.join(tmp.path, 'data');
    server = olderRecord({
      mlflowBin: path.join(data, 'venv', 'bin', 'mlflow'),
      port: (health.address() as AddressInfo).port,
      backendStoreUri: sqliteUri(path.join(data, 'mlflow.db')),
    });
    bin = path.join(tmp.path, 'bin');
    // An active unit, whatever is asked.
    makeFakeBin(bin, 'systemctl', `[ "$2" = show ] && printf 'ActiveState=active\\nUnitFileState=enabled\\nMainPID=4242\\n'\nexit 0`);
    const config = path.join(tmp.path, 'config');
    env = { HOME: path.join(tmp.path, 'home'), XDG_CONFIG_HOME: config, PATH: fakePath(bin) };
    unitFile = path.join(config, 'systemd', 'user', 'claude-mlflow-server.service');
    // As the version before wrote it: two workers, job execution left to MLflow (on).
    const current = renderUnit(serviceSpecOf(data, server));
    const older = current
      .replace('"--workers" "1"', '"--workers" "2"')
      .replace('Environment="MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"\n', '');
    expect(older).not.toBe(current);
    mkdirSync(path.dirname(unitFile), { recursive: true });
    writeFileSync(unitFile, older);
  });

  afterEach(async () => {
    await new Promise((resolve) => health.close(resolve));
    await tmp.cleanup();
  });

  const data = (): string => path.join(tmp.path, 'data');
  const systemctlCalls = (): string[] => readCalls(callsFile(bin)).map((call) => call.slice(2).join(' '));

  it('server restart writes the unit as the settings say now and restarts it; an up-to-date unit is just restarted', async () => {
    await restartServer(data(), server, env);
    expect(readFileSync(unitFile, 'utf8')).toBe(renderUnit(serviceSpecOf(data(), server)));
    expect(readFileSync(unitFile, 'utf8')).toContain('Environment="MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"');
    expect(systemctlCalls().filter((c) => !c.startsWith('show'))).toEqual([
      'daemon-reload',
      'enable claude-mlflow-server.service',
      'restart claude-mlflow-server.service',
    ]);

    writeFileSync(callsFile(bin), '');
    await restartServer(data(), server, env);
    expect(systemctlCalls().filter((c) => !c.startsWith('show'))).toEqual(['restart claude-mlflow-server.service']);
  });

  it('server start on a running service rewrites an outdated unit (which restarts it), and leaves an up-to-date one alone', async () => {
    const started = await ensureServerRunning(data(), server, env);
    expect(started.started).toBe(true);
    expect(readFileSync(unitFile, 'utf8')).toBe(renderUnit(serviceSpecOf(data(), server)));
    expect(systemctlCalls()).toContain('restart claude-mlflow-server.service');

    writeFileSync(callsFile(bin), '');
    const again = await ensureServerRunning(data(), server, env);
    expect(again).toEqual({ started: false, pid: 4242 });
    expect(systemctlCalls().filter((c) => !c.startsWith('show'))).toEqual([]);

    // init --server-jobs recorded job execution: the next start puts it in the unit.
    const withJobs = { ...server, jobExecution: true };
    await ensureServerRunning(data(), withJobs, env);
    expect(readFileSync(unitFile, 'utf8')).toContain('Environment="MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true"');
  });
});
