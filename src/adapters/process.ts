/**
 * The one way this program starts a child process: every child in src/ is
 * started here, on execa (test/architecture.test.ts holds everyone else to it).
 *
 * - runProcess(): run to completion and collect the output (never rejects);
 * - startPiped(): a child that talks over its stdin and stdout while it runs
 *   (the migrate worker, the MLflow Python client), as execa's subprocess;
 * - startDetached(): a child that outlives us (the hook's delivery process,
 *   the background `mlflow server`).
 *
 * Speed: execa takes about 80 ms of CPU to load (a third of that as the one
 * file scripts/bundle-hook.mjs makes of this module in dist/). doctor starts
 * its probes before anything heavy is loaded, so execa is imported when a
 * child is first run, never when this module loads. The hook starts its
 * delivery process on every run and must start in a few ms: a detached child
 * with no output to collect, no timeout and nobody waiting needs nothing execa
 * adds, so startDetached spawns it with node:child_process itself, and the
 * hook's bundle carries no execa.
 */
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Result } from 'execa';

type Execa = typeof import('execa');
let execaModule: Promise<Execa> | undefined;
const loadExeca = (): Promise<Execa> => (execaModule ??= import('execa'));

/** Out of the terminal's process group (not on Windows): Ctrl-C does not reach it. */
const ownGroup = (detached: boolean | undefined): boolean => Boolean(detached) && process.platform !== 'win32';

export interface RunOptions {
  /** Written to its stdin, which is then closed; without it, stdin is ignored. */
  input?: string;
  /** Its whole environment (default: process.env). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** How the timeout ends it: SIGKILL at once (the default), or SIGTERM then SIGKILL 5 s later. */
  killSignal?: 'SIGTERM' | 'SIGKILL';
  /** Run the command line through this shell (true: the platform's). */
  shell?: boolean | string;
  /** Out of the terminal's process group (not on Windows): Ctrl-C does not reach it. */
  detached?: boolean;
  /** Each chunk of output as it comes, instead of collecting it (stdout and stderr then come back empty). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunResult {
  /** undefined when the process could not start or was killed. */
  exitCode?: number;
  /** Its output, without the final newline. */
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Why it could not start (ENOENT, EACCES…). */
  error?: string;
  /** How it failed, naming the command ("Command failed with exit code 1: …"); undefined when it exited 0. */
  failure?: string;
  pid?: number;
}

/** Why a child could not start: it neither exited nor was killed, and its spawn failed. */
function startError(r: Result): string | undefined {
  const notStarted = r.exitCode === undefined && r.signal === undefined && !r.timedOut;
  return notStarted && r.cause instanceof Error ? r.cause.message : undefined;
}

/** Run a command to completion. Never rejects: a failure is in the result. */
export async function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { execa } = await loadExeca();
  const streaming = options.onOutput !== undefined;
  const child = execa(command, args, {
    env: options.env ?? process.env,
    extendEnv: false,
    cwd: options.cwd,
    shell: options.shell ?? false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    killSignal: options.killSignal ?? 'SIGKILL',
    detached: ownGroup(options.detached),
    buffer: !streaming,
    reject: false,
    windowsHide: true,
  });
  if (options.onOutput) {
    const onOutput = options.onOutput;
    child.stdout?.on('data', (chunk: Buffer) => onOutput(chunk.toString('utf8'), 'stdout'));
    child.stderr?.on('data', (chunk: Buffer) => onOutput(chunk.toString('utf8'), 'stderr'));
  }
  const r = await child;
  const error = startError(r);
  return {
    ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }),
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    timedOut: r.timedOut,
    ...(error === undefined ? {} : { error }),
    ...(r.failed ? { failure: r.shortMessage } : {}),
    ...(child.pid ? { pid: child.pid } : {}),
  };
}

/** How a child ended: its exit code or the signal that killed it, or why it could not start. */
export interface ChildEnd {
  exitCode?: number;
  signal?: string;
  /** Why it could not start (ENOENT, EACCES…). */
  error?: string;
}

/** A child that talks over its stdin and stdout while it runs (execa's subprocess). */
export interface PipedChild {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Send this signal only: no forced kill follows it. */
  kill(signal: NodeJS.Signals): void;
  /** Settles once it has ended and its output has been read. */
  readonly ended: Promise<ChildEnd>;
}

/**
 * Start a child with piped stdin, stdout and stderr, none of it collected:
 * the caller reads and writes them. The child is left alone when we exit (with
 * `detached`, its stdin closing is how it learns that we are gone).
 */
export async function startPiped(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; detached?: boolean } = {},
): Promise<PipedChild> {
  const { execa } = await loadExeca();
  const child = execa(command, args, {
    env: options.env ?? process.env,
    extendEnv: false,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: ownGroup(options.detached),
    buffer: false,
    reject: false,
    cleanup: false,
    forceKillAfterDelay: false,
    windowsHide: true,
  });
  const ended = child.then((r): ChildEnd => {
    const error = startError(r);
    return error !== undefined
      ? { error }
      : { ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }), ...(r.signal ? { signal: r.signal } : {}) };
  });
  return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, kill: (signal) => void child.kill(signal), ended };
}

export interface DetachedStart {
  /** undefined when it could not start: `error` then says why. */
  pid?: number;
  /** Why it could not start (ENOENT, EACCES…); settles only when it did not. */
  error: Promise<string>;
}

/**
 * Start a child that outlives us: in a process group and session of its own
 * (so that it can be stopped as a whole, and a terminal or `claude -p` that
 * exits does not take it down), its stdin ignored and its output to `logFd`
 * (or ignored), unreferenced (we do not wait for it).
 */
export function startDetached(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFd?: number } = {},
): DetachedStart {
  const child = spawn(command, args, {
    detached: true,
    stdio: options.logFd === undefined ? 'ignore' : ['ignore', options.logFd, options.logFd],
    env: options.env ?? process.env,
    cwd: options.cwd,
    windowsHide: true,
  });
  const error = new Promise<string>((resolve) => child.on('error', (e) => resolve(e.message)));
  child.unref();
  return { pid: child.pid, error };
}
