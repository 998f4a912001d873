/**
 * A small child-process runner on node:child_process. doctor starts its
 * probes (Python, the hook runtime) before anything heavy is loaded, so the
 * children run while the rest of doctor loads, and cleanup's sqlite
 * maintenance runs on it: this one loads in no time.
 */
import { spawn } from 'node:child_process';

export interface RunResult {
  /** undefined when the process could not start or was killed. */
  exitCode?: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Why it could not start (ENOENT, EACCES…). */
  error?: string;
  pid?: number;
}

export function runProcess(
  file: string,
  args: readonly string[],
  options: {
    input?: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
    shell?: boolean | string;
    /** Out of the terminal's process group (not on Windows): Ctrl-C does not reach it. */
    detached?: boolean;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(file, args, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        shell: options.shell,
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        detached: Boolean(options.detached) && process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (error) {
      resolve({ stdout: '', stderr: '', timedOut: false, error: (error as Error).message });
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let startError: string | undefined;
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (error) => {
      startError = error.message;
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        ...(code === null ? {} : { exitCode: code }),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        ...(startError ? { error: startError } : {}),
        ...(child.pid ? { pid: child.pid } : {}),
      });
    });
    if (options.input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
  });
}
