/**
 * Never lose a trace: with the server down the hook spools (quickly), and
 * once the server is back `flush` or the next hook run delivers, in order,
 * exactly once.
 */
import { execa } from 'execa';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHookEnv } from '../helpers/hook-env.js';
import { startMlflowServer, searchTraces, type MlflowServer } from '../helpers/mlflow-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { sampleWithSession } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { distCli, distHook } from '../helpers/venv.js';

let tmp: TempDir;
let port: number;
let server: MlflowServer | undefined;
let data: string;
let serverDir: TempDir;
const EXPERIMENT = 'spool-it';

function env(extra: Record<string, string> = {}): Record<string, string> {
  return makeHookEnv({ home: tmp.path, dataRoot: data, trackingUri: `http://127.0.0.1:${port}`, experiment: EXPERIMENT }, extra);
}

function spooled(): string[] {
  try {
    return readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json'));
  } catch {
    return [];
  }
}

function session(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

beforeAll(async () => {
  tmp = await makeTempDir();
  data = path.join(tmp.path, 'data');
  port = await freePort();
  serverDir = await makeTempDir('claude-mlflow-server-');
});
afterAll(async () => {
  await server?.stop();
  await serverDir?.cleanup();
  await tmp?.cleanup();
});

describe('spool', () => {
  it('spools 5 sessions while the server is down, each hook well under 2 s', async () => {
    for (let n = 1; n <= 5; n++) {
      const { stdin } = sampleWithSession(tmp.path, session(n));
      const result = await runHookProcess(stdin, env());
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe('');
      expect(result.wallMs).toBeLessThan(2000);
    }
    expect(spooled()).toHaveLength(5);
  });

  it('gives up within 2 s when the server accepts connections but never answers', async () => {
    const sockets: net.Socket[] = [];
    const hanging = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const hangPort = (hanging.address() as net.AddressInfo).port;
    const hangData = path.join(tmp.path, 'hang-data');
    const { stdin } = sampleWithSession(tmp.path, session(99));
    const result = await runHookProcess(
      stdin,
      env({ CLAUDE_MLFLOW_HOME: hangData, MLFLOW_TRACKING_URI: `http://127.0.0.1:${hangPort}` }),
    );
    expect(result.exitCode).toBe(0);
    expect(result.wallMs).toBeLessThan(2000);
    expect(readdirSync(path.join(hangData, 'spool')).filter((f) => f.endsWith('.trace.json'))).toHaveLength(1);

    // That slow failure starts a backoff: the next hook spools at once, without touching the network.
    const connections = sockets.length;
    const { stdin: next } = sampleWithSession(tmp.path, session(98));
    const again = await runHookProcess(
      next,
      env({ CLAUDE_MLFLOW_HOME: hangData, MLFLOW_TRACKING_URI: `http://127.0.0.1:${hangPort}` }),
    );
    for (const s of sockets) s.destroy();
    hanging.close();
    expect(again.exitCode).toBe(0);
    expect(sockets.length).toBe(connections);
    expect(readdirSync(path.join(hangData, 'spool')).filter((f) => f.endsWith('.trace.json'))).toHaveLength(2);
    expect(readFileSync(path.join(hangData, 'logs', 'hook.log'), 'utf8')).toContain('the server timed out recently');
  });

  it('keeps the spool within its bound, evicting the oldest and logging which', async () => {
    const boundData = path.join(tmp.path, 'bound-data');
    for (let n = 300; n < 305; n++) {
      const { stdin } = sampleWithSession(tmp.path, session(n));
      await runHookProcess(stdin, env({ CLAUDE_MLFLOW_HOME: boundData, CLAUDE_MLFLOW_SPOOL_MAX: '3' }));
    }
    const files = readdirSync(path.join(boundData, 'spool')).filter((f) => f.endsWith('.trace.json'));
    expect(files).toHaveLength(3);
    const log = readFileSync(path.join(boundData, 'logs', 'hook.log'), 'utf8');
    expect(log.match(/spool full \(3 traces\): removed the 1 oldest, never delivered: tr-[0-9a-f]{32}/g)).toHaveLength(2);

    // Not silent: doctor reports the loss.
    const doctor = await execa(process.execPath, [distCli, 'doctor', '--json', '--check', 'hook-log'], {
      env: { ...env({ CLAUDE_MLFLOW_HOME: boundData }), CI: 'true' },
      extendEnv: false,
      reject: false,
    });
    const check = JSON.parse(String(doctor.stdout)).checks[0];
    expect(check).toMatchObject({ id: 'hook-log', status: 'warn' });
    expect(check.message).toMatch(/^The spool was full: the hook dropped 2 traces without delivering them \(last \d+ s ago\)\.$/);
    expect(check.details.join('\n')).toContain('CLAUDE_MLFLOW_SPOOL_MAX');
  });

  it('leaves nothing that flush chokes on when a hook is killed while spooling', async () => {
    const killData = path.join(tmp.path, 'kill-data');
    mkdirSync(path.join(killData, 'spool'), { recursive: true, mode: 0o700 });
    // What a write cut short by SIGKILL leaves: a hidden temp file beside the spool.
    writeFileSync(path.join(killData, 'spool', '.1795000000000-abc.trace.json.123.456.tmp'), '{"version":1,"tra');
    for (let i = 0; i < 8; i++) {
      const { stdin } = sampleWithSession(tmp.path, session(200 + i));
      const child = execa(process.execPath, [distHook], {
        input: stdin,
        env: env({ CLAUDE_MLFLOW_HOME: killData }),
        extendEnv: false,
        reject: false,
      });
      setTimeout(() => child.kill('SIGKILL'), 40 + i * 15);
      await child;
    }
    const flush = await execa(process.execPath, [distCli, 'flush', '--json', '--timeout', '2'], {
      env: env({ CLAUDE_MLFLOW_HOME: killData }),
      extendEnv: false,
      reject: false,
    });
    const result = JSON.parse(String(flush.stdout));
    // The server is still down: every complete spool file is kept, and none is unreadable.
    expect(result.unreadable).toEqual([]);
    expect(result.delivered).toBe(0);
    expect(result.remaining).toBe(result.waiting);
  });

  it('flush delivers the 5 once the server is back, leaves 0, and makes no duplicates', async () => {
    server = await startMlflowServer({ port, dir: serverDir });
    const flush = await execa(process.execPath, [distCli, 'flush', '--json'], { env: env(), extendEnv: false, reject: false });
    expect(flush.exitCode).toBe(0);
    expect(JSON.parse(String(flush.stdout))).toMatchObject({ waiting: 5, delivered: 5, remaining: 0 });
    expect(spooled()).toHaveLength(0);

    const again = await execa(process.execPath, [distCli, 'flush', '--json'], { env: env(), extendEnv: false, reject: false });
    expect(JSON.parse(String(again.stdout))).toMatchObject({ waiting: 0, delivered: 0 });

    const traces = await searchTraces(server, EXPERIMENT);
    const sessions = traces.map((t) => t.info.trace_metadata['mlflow.trace.session']).sort();
    expect(sessions).toEqual([1, 2, 3, 4, 5].map(session));
    for (const t of traces) expect(t.spans).toHaveLength(4);
  });

  it('the next successful hook run delivers what waited in the spool', async () => {
    await server!.stop();
    const { stdin: six } = sampleWithSession(tmp.path, session(6));
    await runHookProcess(six, env());
    expect(spooled()).toHaveLength(1);
    server = await startMlflowServer({ port, dir: serverDir });
    const { stdin: seven } = sampleWithSession(tmp.path, session(7));
    const result = await runHookProcess(seven, env());
    expect(result.exitCode).toBe(0);
    expect(spooled(), readFileSync(path.join(data, 'logs', 'hook.log'), 'utf8')).toHaveLength(0);
    const sessions = (await searchTraces(server, EXPERIMENT)).map((t) => t.info.trace_metadata['mlflow.trace.session']);
    expect(sessions).toEqual(expect.arrayContaining([session(6), session(7)]));
    expect(sessions).toHaveLength(7);
  });
});
