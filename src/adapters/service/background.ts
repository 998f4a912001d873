/**
 * The fallback service manager: `mlflow server` as a detached background
 * process (its own process group) with a pidfile and a log file.
 *
 * `mlflow server` is a tree: the mlflow CLI process (the group leader, whose
 * pid we record) runs `python -m uvicorn` (which holds the listening socket),
 * which spawns the workers and a multiprocessing resource tracker. Only the
 * first two carry the port in their command line, so we always signal the
 * whole process group, never single pids. When the leader dies alone (kill -9),
 * uvicorn and its workers keep serving: those are the `strays` of a 'dead'
 * record, and start/stop reap them.
 */
import { chmodSync, closeSync, fchmodSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CliError, EXIT } from '../../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs-atomic.js';
import { httpRequestText } from '../http.js';
import { runProcess, startDetached } from '../process.js';
import { sleep } from '../sleep.js';

export interface ServerSpec {
  mlflowBin: string;
  backendStoreUri: string;
  artifactsDir: string;
  host: string;
  port: number;
  logFile: string;
  pidFile: string;
  /** The server's whole environment (default: process.env); serverEnvironment(spec) goes on top. */
  env?: NodeJS.ProcessEnv;
  /** Run MLflow's job execution (`init --server-jobs`); off when absent. See serverEnvironment. */
  jobExecution?: boolean;
}

export interface PidRecord {
  pid: number;
  port: number;
  host: string;
  startedAt: string;
  command: string[];
  /** What serverEnvironment set on top of the inherited environment (absent in records of older versions). */
  environment?: Record<string, string>;
}

export type ProcessState = 'running' | 'dead' | 'not-ours' | 'no-pidfile';

export interface BackgroundState {
  state: ProcessState;
  record?: PidRecord;
  /** 'dead' only: live processes of the record's process group (its uvicorn and workers) still holding on. */
  strays?: number[];
}

/**
 * Uvicorn workers for a personal tracing server: one. Each worker is a whole
 * MLflow app (about 250 MB on MLflow 3.17) and MLflow's default is 4; with one,
 * uvicorn also runs no supervisor or resource tracker, so the idle server is
 * two processes, about 490 MB (bench/server-idle.mjs). One worker still
 * serves requests side by side (MLflow runs its Flask handlers and the OTLP
 * ingest's database writes on threads), sharing one interpreter: while the UI
 * loads a 1,000-span trace, a trace takes about 0.25 s to be stored instead
 * of 0.06 s with two workers. The hook never waits for that: delivery does.
 */
export const SERVER_WORKERS = 1;

/**
 * MLflow's job execution (MLFLOW_SERVER_ENABLE_JOB_EXECUTION, on by default)
 * runs a job runner and a Huey consumer process per job kind: 8 more
 * processes, about 1.8 GB idle on MLflow 3.17. Its jobs are what the UI starts
 * for judges, evaluation, prompt optimization and issue detection, and the
 * periodic online scoring and trace archival. Tracing needs none of them: the
 * OTLP ingest and the Traces, trace detail, Sessions and Overview pages are
 * plain request handlers. So it is off unless `init --server-jobs` asked for
 * it, and set explicitly either way so that neither MLflow's default nor the
 * shell's environment decides.
 */
export const JOB_EXECUTION_ENV = 'MLFLOW_SERVER_ENABLE_JOB_EXECUTION';

/** The variables we set for the server on top of its environment. */
export function serverEnvironment(spec: Pick<ServerSpec, 'jobExecution'>): Record<string, string> {
  return { [JOB_EXECUTION_ENV]: spec.jobExecution === true ? 'true' : 'false' };
}

export function serverArgs(spec: ServerSpec): string[] {
  return [
    'server',
    '--backend-store-uri',
    spec.backendStoreUri,
    '--artifacts-destination',
    spec.artifactsDir,
    '--host',
    spec.host,
    '--port',
    String(spec.port),
    '--workers',
    String(SERVER_WORKERS),
  ];
}

// ---------------------------------------------------------------- processes

/** Whether pid is a live process (a zombie, exited but not yet reaped, is not). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    return !/^[ZX]/.test(procStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).state);
  } catch {
    return false;
  }
}

/** /proc/<pid>/stat after the `(comm)` field, which may contain spaces. */
function procStat(text: string): { state: string; pgrp: number } {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
}

/** A process's argv: /proc on Linux, ps elsewhere (split on spaces); undefined when unknown. */
async function commandLineOf(pid: number): Promise<string[] | undefined> {
  if (process.platform === 'linux') {
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      return argv.length ? argv : undefined;
    } catch {
      return undefined;
    }
  }
  const r =
    process.platform === 'win32'
      ? await runProcess(
          'powershell',
          ['-NoProfile', '-Command', `(Get-CimInstance Win32_Process -Filter 'ProcessId=${pid}').CommandLine`],
          { timeoutMs: 10_000, killSignal: 'SIGTERM' },
        )
      : await runProcess('ps', ['-o', 'command=', '-p', String(pid)], { timeoutMs: 5000, killSignal: 'SIGTERM' });
  const line = r.stdout.trim();
  return r.exitCode === 0 && line ? line.split(/\s+/) : undefined;
}

/** Our server, judged by its argv: it mentions mlflow, and the port as a word of its own. */
function isOurServer(argv: string[] | undefined, port: number): boolean {
  if (!argv) return false;
  const p = String(port);
  return argv.some((a) => a.includes('mlflow')) && argv.some((a) => a === p || a.endsWith(`=${p}`) || a.endsWith(`:${p}`));
}

/** Linux: each live (non-zombie) process, with its process group and argv. */
async function liveProcesses(): Promise<{ pid: number; pgrp: number; argv: string[] }[]> {
  const live: { pid: number; pgrp: number; argv: string[] }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = procStat(await readFile(`/proc/${entry}/stat`, 'utf8'));
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      if (!/^[ZX]/.test(stat.state)) live.push({ pid: Number(entry), pgrp: stat.pgrp, argv });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return live;
}

/** Live (non-zombie) members of process group `pgid`. */
async function groupMembers(pgid: number): Promise<number[]> {
  if (process.platform === 'win32') return [];
  if (process.platform === 'linux') return (await liveProcesses()).filter((p) => p.pgrp === pgid).map((p) => p.pid);
  const r = await runProcess('ps', ['-A', '-o', 'pid=,pgid=,stat='], { timeoutMs: 5000, killSignal: 'SIGTERM' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => Number(f[1]) === pgid && !(f[2] ?? '').startsWith('Z'))
    .map((f) => Number(f[0]));
}

/** A running `mlflow server` of a data folder: its process group (the leader's pid) and address. */
export interface ServerProcess {
  pgid: number;
  host: string;
  port: number;
}

/**
 * The host and port of an `mlflow server` command line that stores its
 * artifacts in artifactsDir, or undefined when the line is not one. Our data folder's
 * artifacts path is its own, so such a server is ours whatever its port.
 */
export function serverAddressFor(argv: string[], artifactsDir: string): { host: string; port: number } | undefined {
  const at = argv.indexOf('--artifacts-destination');
  const isServer = argv.includes('server') && argv.some((a) => /(^|[\\/])mlflow(\.exe)?$/.test(a));
  if (!isServer || at < 0 || argv[at + 1] !== artifactsDir) return undefined;
  const port = Number(argv[argv.indexOf('--port') + 1]);
  const host = argv.includes('--host') ? argv[argv.indexOf('--host') + 1] : undefined;
  return Number.isInteger(port) && port > 0 ? { host: host ?? '127.0.0.1', port } : undefined;
}

/**
 * Every live `mlflow server` of this data folder, found by its command line
 * (not by a pidfile): a command killed between starting a server and writing
 * its pidfile leaves one that nothing names. Linux reads /proc; macOS and the
 * BSDs ask ps, whose command column is split on spaces and so matched as a
 * line. Windows: none are found (its background servers are not looked for).
 */
export async function serversOfDataFolder(artifactsDir: string): Promise<ServerProcess[]> {
  if (process.platform === 'win32') return [];
  const found = new Map<number, ServerProcess>();
  if (process.platform === 'linux') {
    for (const { pgrp, argv } of await liveProcesses()) {
      const address = serverAddressFor(argv, artifactsDir);
      if (address) found.set(pgrp, { pgid: pgrp, ...address });
    }
    return [...found.values()];
  }
  const r = await runProcess('ps', ['-A', '-ww', '-o', 'pgid=,command='], { timeoutMs: 5000, killSignal: 'SIGTERM' });
  for (const line of r.stdout.split('\n')) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    const command = match?.[2] ?? '';
    const marker = ` --artifacts-destination ${artifactsDir} `;
    if (!match || !` ${command} `.includes(marker) || !/ server /.test(` ${command} `)) continue;
    const port = Number(/ --port (\d+)( |$)/.exec(command)?.[1]);
    const host = / --host (\S+)/.exec(command)?.[1] ?? '127.0.0.1';
    if (Number.isInteger(port) && port > 0) found.set(Number(match[1]), { pgid: Number(match[1]), host, port });
  }
  return [...found.values()];
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // No such group (pid is not a group leader): signal the pid alone.
    try {
      process.kill(pgid, signal);
    } catch {
      // already gone
    }
  }
}

async function waitUntil(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/** SIGTERM the group, wait up to timeoutMs for all of it to exit, then SIGKILL what is left. */
async function stopGroup(pgid: number, timeoutMs: number): Promise<void> {
  if (process.platform === 'win32') {
    await runProcess('taskkill', ['/pid', String(pgid), '/T', '/F']);
    return;
  }
  const gone = async (): Promise<boolean> => !isAlive(pgid) && (await groupMembers(pgid)).length === 0;
  signalGroup(pgid, 'SIGTERM');
  if (await waitUntil(gone, timeoutMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitUntil(gone, 5000);
}

// ---------------------------------------------------------------- pidfile

function readRecord(pidFile: string): { exists: boolean; record?: PidRecord } {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch {
    return { exists: false };
  }
  try {
    const r = JSON.parse(text) as PidRecord;
    const valid = Number.isInteger(r.pid) && r.pid > 0 && Number.isInteger(r.port) && typeof r.host === 'string';
    return { exists: true, record: valid ? r : undefined };
  } catch {
    return { exists: true };
  }
}

/**
 * What the pidfile says: 'running' (the pid is alive and is our mlflow server
 * on the recorded port), 'dead' (or unreadable), 'not-ours' (the pid is alive
 * but something else: it was reused), or 'no-pidfile'.
 */
export async function backgroundState(pidFile: string): Promise<BackgroundState> {
  const { exists, record } = readRecord(pidFile);
  if (!exists) return { state: 'no-pidfile' };
  if (!record) return { state: 'dead' };
  if (isAlive(record.pid)) {
    return { state: isOurServer(await commandLineOf(record.pid), record.port) ? 'running' : 'not-ours', record };
  }
  const members = await groupMembers(record.pid);
  const argvs = await Promise.all(members.map((pid) => commandLineOf(pid)));
  const ours = argvs.some((argv) => isOurServer(argv, record.port));
  return { state: 'dead', record, ...(ours && members.length ? { strays: members } : {}) };
}

// ---------------------------------------------------------------- start, stop, health

/**
 * Start `mlflow server` in the background, unless the pidfile points at our
 * live server (then that record is returned). Leftovers of a dead one are
 * reaped first. Does not wait for /health: see waitForHealth.
 */
export async function startBackground(spec: ServerSpec): Promise<PidRecord> {
  const current = await backgroundState(spec.pidFile);
  if (current.state === 'running' && current.record) return current.record;
  if (current.state === 'dead' && current.strays && current.record) await stopGroup(current.record.pid, 10_000);
  const unnamed = await stopUnnamedServers(spec, current.record?.pid);

  const logDir = dirname(spec.logFile);
  ensurePrivateDir(logDir);
  chmodSync(logDir, 0o700);
  ensurePrivateDir(dirname(spec.pidFile));
  if (!spec.artifactsDir.includes('://')) ensurePrivateDir(spec.artifactsDir);

  const args = serverArgs(spec);
  const command = [spec.mlflowBin, ...args];
  const log = openSync(spec.logFile, 'a', 0o600);
  let pid: number | undefined;
  try {
    fchmodSync(log, 0o600);
    const settings = Object.entries(serverEnvironment(spec)).map(([name, value]) => `${name}=${value}`);
    for (const pgid of unnamed)
      writeSync(
        log,
        `\n=== ${new Date().toISOString()} claude-mlflow stopped a server of this data folder that no pidfile named (pid ${pgid})\n`,
      );
    writeSync(log, `\n=== ${new Date().toISOString()} claude-mlflow starts: ${[...settings, ...command].join(' ')}\n`);
    // Its own process group (and session), so we can stop the whole tree.
    const child = startDetached(spec.mlflowBin, args, {
      env: { ...(spec.env ?? process.env), ...serverEnvironment(spec) },
      cwd: dirname(spec.pidFile),
      logFd: log,
    });
    pid = child.pid;
    if (pid === undefined) throw new CliError(`could not start ${spec.mlflowBin}: ${await child.error}`, EXIT.failure);
  } finally {
    closeSync(log);
  }

  const record: PidRecord = {
    pid,
    port: spec.port,
    host: spec.host,
    startedAt: new Date().toISOString(),
    command,
    environment: serverEnvironment(spec),
  };
  writeFileAtomic(spec.pidFile, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return record;
}

/** How long a server that no pidfile names may take to answer /health before it is stopped anyway. */
const UNNAMED_SERVER_SETTLE_MS = 60_000;

/**
 * Stop the servers of this data folder that the pidfile does not name: one
 * that a command started just before it was killed, before it wrote the
 * pidfile. Callers start servers under the data folder's server lock, so no
 * live command is between those two steps now. Each is first let answer
 * /health: a server stopped while it creates a new database's tables leaves
 * that database broken (alembic's `_alembic_tmp_*` tables). Returns their pids.
 */
async function stopUnnamedServers(spec: ServerSpec, named: number | undefined): Promise<number[]> {
  const unnamed = (await serversOfDataFolder(spec.artifactsDir)).filter((server) => server.pgid !== named);
  for (const server of unnamed) {
    const url = `http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
    await waitForHealth(url, UNNAMED_SERVER_SETTLE_MS, () => isAlive(server.pgid)).catch(() => undefined);
    await stopGroup(server.pgid, 10_000);
  }
  return unnamed.map((server) => server.pgid);
}

/**
 * Stop our server: SIGTERM its process group, SIGKILL after timeoutMs
 * (default 10 s), remove the pidfile. A pid that is not our server is never
 * signalled ('not-ours', pidfile kept).
 */
export async function stopBackground(
  pidFile: string,
  options: { timeoutMs?: number } = {},
): Promise<'stopped' | 'not-running' | 'not-ours'> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { state, record, strays } = await backgroundState(pidFile);
  if (state === 'no-pidfile') return 'not-running';
  if (state === 'not-ours') return 'not-ours';
  let result: 'stopped' | 'not-running' = 'not-running';
  if (record && (state === 'running' || strays)) {
    await stopGroup(record.pid, timeoutMs);
    result = 'stopped';
  }
  rmSync(pidFile, { force: true });
  return result;
}

/** Poll GET <url>/health every 200 ms until it answers 200. */
export async function waitForHealth(url: string, timeoutMs: number, isAlive?: () => boolean): Promise<void> {
  const base = url.replace(/\/+$/, '').replace(/\/health$/, '');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (isAlive && !isAlive()) throw new CliError(`the MLflow server exited before it answered ${base}/health`, EXIT.failure);
    const left = deadline - Date.now();
    try {
      const res = await httpRequestText(`${base}/health`, { timeoutMs: Math.max(100, Math.min(2000, left)) });
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() + 200 > deadline) {
      throw new CliError(`the MLflow server at ${base} did not answer /health within ${Math.round(timeoutMs / 1000)} s`, EXIT.failure);
    }
    await sleep(200);
  }
}

/**
 * Why the server stopped, from its log: the last line since our last start
 * marker that names an error or an exception (a Python traceback ends with
 * it), else the last line. Undefined when the log says nothing.
 */
export function startFailureCause(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  const since = text.lastIndexOf('claude-mlflow starts:');
  const lines = (since >= 0 ? text.slice(text.indexOf('\n', since) + 1) : text)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter(
    (line) => /\b(?:\w*Error|\w*Exception|ERROR|FATAL)\b/.test(line) && !/^Traceback \(most recent call last\)/.test(line),
  );
  const cause = errors.at(-1) ?? lines.at(-1);
  return cause === undefined ? undefined : cause.length > 300 ? `${cause.slice(0, 300)}…` : cause;
}

/** The last lines of the server log, for error messages. */
export function logTail(logFile: string, lines = 20): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
