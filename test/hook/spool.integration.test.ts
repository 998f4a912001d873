/**
 * Never lose a trace: with the server down the hook spools (quickly) and
 * leaves the sending to a detached delivery process; once the server is back
 * `flush` or the delivery process delivers, in order, exactly once.
 */
import { execa } from 'execa';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryPid, deliveryProcesses, stopDelivery, waitForSpoolEmpty } from '../helpers/delivery.js';
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

/** Poll `check` until it holds; fails with `what` after `timeoutMs`. */
async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether process `pid` holds the client end of the TCP connection 127.0.0.1:`clientPort` → :`serverPort` (Linux /proc). */
function holdsConnection(pid: number, clientPort: number, serverPort: number): boolean {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  const row = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((cols) => cols[1]?.endsWith(`:${hex(clientPort)}`) && cols[2]?.endsWith(`:${hex(serverPort)}`));
  const inode = row?.[9];
  if (!inode || inode === '0') return false;
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
    } catch {
      return false;
    }
  });
}

beforeAll(async () => {
  tmp = await makeTempDir();
  data = path.join(tmp.path, 'data');
  port = await freePort();
  serverDir = await makeTempDir('claude-mlflow-server-');
});
afterAll(async () => {
  // Nothing keeps retrying against the servers this file stopped.
  for (const dir of ['data', 'hang-data', 'bound-data', 'kill-data']) await stopDelivery(path.join(tmp.path, dir));
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

  it('returns within 2 s when the server accepts connections but never answers: the delivery process waits, not the hook', async () => {
    const sockets: net.Socket[] = [];
    const hanging = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const hangPort = (hanging.address() as net.AddressInfo).port;
    const hangData = path.join(tmp.path, 'hang-data');
    const hangEnv = env({ CLAUDE_MLFLOW_HOME: hangData, MLFLOW_TRACKING_URI: `http://127.0.0.1:${hangPort}` });
    const traceFiles = (): string[] => readdirSync(path.join(hangData, 'spool')).filter((f) => f.endsWith('.trace.json'));
    try {
      const { stdin } = sampleWithSession(tmp.path, session(99));
      const result = await runHookProcess(stdin, hangEnv);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe('');
      expect(result.wallMs).toBeLessThan(2000);
      expect(traceFiles()).toHaveLength(1);

      // The hook has exited; the process that connects is the delivery runtime it started, still at work.
      await waitUntil(() => sockets.length > 0, 15_000, 'a connection to the hanging server');
      const pid = deliveryPid(hangData);
      expect(pid).toBeDefined();
      expect(deliveryProcesses(hangData)).toEqual([pid]);
      for (const s of sockets) expect(holdsConnection(pid!, s.remotePort!, hangPort)).toBe(true);

      // A second hook meanwhile: it spools and returns at once, and starts no second delivery process.
      const { stdin: next } = sampleWithSession(tmp.path, session(98));
      const again = await runHookProcess(next, hangEnv);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toBe('');
      expect(again.wallMs).toBeLessThan(2000);
      expect(traceFiles()).toHaveLength(2);
      expect(deliveryPid(hangData)).toBe(pid);
      expect(deliveryProcesses(hangData)).toEqual([pid]);
      for (const s of sockets) expect(holdsConnection(pid!, s.remotePort!, hangPort)).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
      hanging.close();
      await stopDelivery(hangData);
    }
  });

  it('keeps the spool within its bound, evicting the oldest and logging which', async () => {
    const boundData = path.join(tmp.path, 'bound-data');
    for (let n = 300; n < 305; n++) {
      const { stdin } = sampleWithSession(tmp.path, session(n));
      await runHookProcess(stdin, env({ CLAUDE_MLFLOW_HOME: boundData, CLAUDE_MLFLOW_SPOOL_MAX: '3' }));
    }
    // Its delivery process would send these to the server the next tests start.
    await stopDelivery(boundData);
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
    // Any delivery process those hooks started would send their traces to the server the next tests start.
    await stopDelivery(killData);
    const result = JSON.parse(String(flush.stdout));
    // The server is still down: every complete spool file is kept, and none is unreadable.
    expect(result.unreadable).toEqual([]);
    expect(result.delivered).toBe(0);
    expect(result.remaining).toBe(result.waiting);
  });

  it('flush delivers the 5 once the server is back, leaves 0, and makes no duplicates', async () => {
    // As after the delivery process gave up (the server stayed away too long): flush sends the spool itself.
    await stopDelivery(data);
    expect(deliveryProcesses(data)).toEqual([]);
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
    const log = path.join(data, 'logs', 'hook.log');
    const logged = readFileSync(log, 'utf8').length;
    const { stdin: six } = sampleWithSession(tmp.path, session(6));
    const down = await runHookProcess(six, env());
    expect(down.exitCode).toBe(0);
    expect(down.wallMs).toBeLessThan(2000);
    // The server is down: the delivery process the hook started fails, and the trace waits in the spool.
    await waitUntil(
      () => /error delivery failed, 1 trace\(s\) wait in the spool: .*ECONNREFUSED/.test(readFileSync(log, 'utf8').slice(logged)),
      30_000,
      'the delivery failure in hook.log',
    );
    expect(spooled()).toHaveLength(1);
    server = await startMlflowServer({ port, dir: serverDir });
    const { stdin: seven } = sampleWithSession(tmp.path, session(7));
    const result = await runHookProcess(seven, env());
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.wallMs).toBeLessThan(2000);
    await waitForSpoolEmpty(data, 60_000);
    const sessions = (await searchTraces(server, EXPERIMENT)).map((t) => t.info.trace_metadata['mlflow.trace.session']);
    expect(sessions.sort()).toEqual([1, 2, 3, 4, 5, 6, 7].map(session));
  });
});
