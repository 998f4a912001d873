/**
 * The background service manager against a real `mlflow server` from the
 * test venv, and real unrelated processes that it must leave alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPortFree, whoListens } from '../../src/adapters/ports.js';
import {
  backgroundState,
  isAlive,
  serverAddressFor,
  serverArgs,
  serverEnvironment,
  startBackground,
  stopBackground,
  waitForHealth,
  type ServerSpec,
} from '../../src/adapters/service/background.js';
import { CliError } from '../../src/errors.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

const SERVER_ENV = {
  ...process.env,
  // As a user's shell might have it: the spec's own setting (off unless asked) must win.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'true',
  MLFLOW_DISABLE_TELEMETRY: 'true',
  DO_NOT_TRACK: 'true',
};

/** Every live process: pid, process group and argv, from /proc. */
function processes(): Array<{ pid: number; pgid: number; argv: string[] }> {
  const out: Array<{ pid: number; pgid: number; argv: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      out.push({ pid: Number(entry), pgid: Number(fields[2]), argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A process's environment variable, from /proc. */
function environmentOf(pid: number, name: string): string | undefined {
  const variable = readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .find((v) => v.startsWith(`${name}=`));
  return variable?.slice(name.length + 1);
}

/** Processes whose command line has `--port <port>`, or that belong to one of the groups. */
function leftovers(port: number, groups: number[]): number[] {
  return processes()
    .filter(({ pgid, argv }) => groups.includes(pgid) || argv.some((a, i) => a === '--port' && argv[i + 1] === String(port)))
    .map((p) => p.pid);
}

const mode = (p: string): number => statSync(p).mode & 0o777;

let tmp: TempDir;
let spec: ServerSpec;
const started: number[] = [];

beforeEach(async () => {
  tmp = await makeTempDir('claude-mlflow-bg-');
  const port = await freePort();
  spec = {
    mlflowBin: venvBin('mlflow'),
    backendStoreUri: `sqlite:///${path.join(tmp.path, 'mlflow.db')}`,
    artifactsDir: path.join(tmp.path, 'artifacts'),
    host: '127.0.0.1',
    port,
    logFile: path.join(tmp.path, 'logs', 'server.log'),
    pidFile: path.join(tmp.path, 'server.pid'),
    env: SERVER_ENV,
  };
});

afterEach(async () => {
  // Whatever a failed test left: kill our groups outright.
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await tmp.cleanup();
});

describe('serverArgs', () => {
  it('is the mlflow server command line', () => {
    expect(serverArgs(spec)).toEqual([
      'server',
      '--backend-store-uri',
      spec.backendStoreUri,
      '--artifacts-destination',
      spec.artifactsDir,
      '--host',
      '127.0.0.1',
      '--port',
      String(spec.port),
      '--workers',
      '1',
    ]);
  });
});

describe('serverAddressFor', () => {
  const leader = (args: string[]): string[] => ['/venv/bin/python', '/venv/bin/mlflow', ...args];
  it("finds our server's address in its command line (as /proc shows it: the interpreter, then the mlflow script)", () => {
    expect(serverAddressFor(leader(serverArgs(spec)), spec.artifactsDir)).toEqual({ host: '127.0.0.1', port: spec.port });
    expect(serverAddressFor(['mlflow', ...serverArgs({ ...spec, host: '0.0.0.0' })], spec.artifactsDir)).toEqual({
      host: '0.0.0.0',
      port: spec.port,
    });
  });
  it("is undefined for another data folder's server, a worker, or another program", () => {
    expect(serverAddressFor(leader(serverArgs(spec)), `${spec.artifactsDir}-other`)).toBeUndefined();
    expect(serverAddressFor(['/venv/bin/python', '-m', 'uvicorn', '--port', String(spec.port)], spec.artifactsDir)).toBeUndefined();
    expect(
      serverAddressFor(['/usr/bin/rsync', 'server', '--artifacts-destination', spec.artifactsDir, '--port', '1'], spec.artifactsDir),
    ).toBeUndefined();
    expect(
      serverAddressFor(['/venv/bin/mlflow', 'ui', '--artifacts-destination', spec.artifactsDir, '--port', '1'], spec.artifactsDir),
    ).toBeUndefined();
  });
});

describe('serverEnvironment', () => {
  it("switches MLflow's job execution off unless the spec asks for it", () => {
    expect(serverEnvironment(spec)).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' });
    expect(serverEnvironment({ ...spec, jobExecution: false })).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' });
    expect(serverEnvironment({ ...spec, jobExecution: true })).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'true' });
  });
});

describe('a real mlflow server in the background', () => {
  it('starts, survives a kill -9 of its pid by restarting cleanly, and stops without strays', async () => {
    const url = `http://127.0.0.1:${spec.port}`;
    const t0 = performance.now();
    const first = await startBackground(spec);
    started.push(first.pid);
    expect(first.port).toBe(spec.port);
    expect(first.command).toEqual([spec.mlflowBin, ...serverArgs(spec)]);
    expect(first.environment).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' });
    await waitForHealth(url, 90_000, () => isAlive(first.pid));
    console.log(`mlflow server start → /health: ${Math.round(performance.now() - t0)} ms`);

    // Files: private log and pidfile.
    expect(mode(spec.logFile)).toBe(0o600);
    expect(mode(path.dirname(spec.logFile))).toBe(0o700);
    expect(mode(spec.pidFile)).toBe(0o600);
    expect(JSON.parse(readFileSync(spec.pidFile, 'utf8'))).toEqual(first);
    expect(readFileSync(spec.logFile, 'utf8')).toContain('claude-mlflow starts: MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false ');

    expect(await backgroundState(spec.pidFile)).toEqual({ state: 'running', record: first });
    // Starting again while it runs returns the running one.
    expect(await startBackground(spec)).toEqual(first);

    // The tree: the leader (our pid) and uvicorn, which carry the port and serve on one worker.
    // Job execution is off, whatever the inherited environment said: no job runner, no Huey consumers.
    const tree = processes().filter((p) => p.pgid === first.pid);
    console.log(`process group ${first.pid}:\n${tree.map((p) => `  ${p.pid} ${p.argv.join(' ').slice(0, 140)}`).join('\n')}`);
    expect(tree.length).toBe(2);
    expect(tree.filter((p) => p.argv.includes(String(spec.port))).length).toBe(2);
    expect(environmentOf(first.pid, 'MLFLOW_SERVER_ENABLE_JOB_EXECUTION')).toBe('false');

    // kill -9 the leader alone: uvicorn lives on, holding the port.
    process.kill(first.pid, 'SIGKILL');
    await expect.poll(() => isAlive(first.pid), { timeout: 5000 }).toBe(false);
    const dead = await backgroundState(spec.pidFile);
    expect(dead.state).toBe('dead');
    expect(dead.record).toEqual(first);
    expect(dead.strays?.length).toBeGreaterThan(0);
    expect(await isPortFree(spec.port)).toBe(false);

    // Start again: the strays are reaped, and the new server is the one listening.
    const second = await startBackground(spec);
    started.push(second.pid);
    expect(second.pid).not.toBe(first.pid);
    expect(processes().filter((p) => p.pgid === first.pid)).toEqual([]);
    await waitForHealth(url, 90_000, () => isAlive(second.pid));
    expect((await backgroundState(spec.pidFile)).state).toBe('running');
    const holders = await whoListens(spec.port);
    expect(holders.length).toBeGreaterThan(0);
    const groupOf = (pid: number) => processes().find((p) => p.pid === pid)?.pgid;
    for (const h of holders) expect(groupOf(h.pid!)).toBe(second.pid);

    // Stop: the whole tree goes, the pidfile too.
    const t1 = performance.now();
    expect(await stopBackground(spec.pidFile)).toBe('stopped');
    console.log(`stopBackground (SIGTERM → whole group gone): ${Math.round(performance.now() - t1)} ms`);
    expect(existsSync(spec.pidFile)).toBe(false);
    expect(leftovers(spec.port, [first.pid, second.pid])).toEqual([]);
    expect(await isPortFree(spec.port)).toBe(true);
    expect(await backgroundState(spec.pidFile)).toEqual({ state: 'no-pidfile' });
    expect(await stopBackground(spec.pidFile)).toBe('not-running');
  });

  it('waitForHealth fails early when the server dies, and on timeout', async () => {
    // Port taken by a live server? No: a bad backend store makes mlflow exit at once.
    const bad = { ...spec, backendStoreUri: 'nosuchscheme://x' };
    const record = await startBackground(bad);
    started.push(record.pid);
    const url = `http://127.0.0.1:${spec.port}`;
    const error = await waitForHealth(url, 60_000, () => isAlive(record.pid)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(1);
    expect((error as CliError).message).toContain('exited before');
    expect((await backgroundState(bad.pidFile)).state).toBe('dead');

    const timedOut = await waitForHealth(url, 600).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(CliError);
    expect((timedOut as CliError).message).toContain('did not answer /health');
  });
});

describe('pidfiles that are not ours', () => {
  let sleeper: ChildProcess | undefined;
  afterAll(() => {
    sleeper?.kill('SIGKILL');
  });

  it('a live unrelated process is "not-ours": never signalled, pidfile kept', async () => {
    // Its own process group, like our server would have: the strongest temptation to kill it.
    sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const pid = sleeper.pid!;
    const record = { pid, port: spec.port, host: '127.0.0.1', startedAt: new Date().toISOString(), command: ['mlflow'] };
    writeFileSync(spec.pidFile, JSON.stringify(record));
    expect(await backgroundState(spec.pidFile)).toEqual({ state: 'not-ours', record });
    expect(await stopBackground(spec.pidFile, { timeoutMs: 500 })).toBe('not-ours');
    await new Promise((r) => setTimeout(r, 300));
    expect(isAlive(pid)).toBe(true);
    expect(existsSync(spec.pidFile)).toBe(true);
    sleeper.kill('SIGKILL');
  });

  it('a stale pidfile (dead pid) is removed: "not-running"', async () => {
    const child = spawn('true', [], { stdio: 'ignore' });
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    writeFileSync(
      spec.pidFile,
      JSON.stringify({ pid, port: spec.port, host: '127.0.0.1', startedAt: new Date().toISOString(), command: [] }),
    );
    expect((await backgroundState(spec.pidFile)).state).toBe('dead');
    expect(await stopBackground(spec.pidFile)).toBe('not-running');
    expect(existsSync(spec.pidFile)).toBe(false);
  });

  it('a corrupt pidfile is "dead", and stop removes it', async () => {
    writeFileSync(spec.pidFile, 'not json');
    expect(await backgroundState(spec.pidFile)).toEqual({ state: 'dead' });
    expect(await stopBackground(spec.pidFile)).toBe('not-running');
    expect(existsSync(spec.pidFile)).toBe(false);
  });
});
