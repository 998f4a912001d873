/**
 * The one process runner: run to completion, piped children (a line
 * protocol), and detached children that outlive us.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { runProcess, startDetached, startPiped } from '../../src/adapters/process.js';

const node = process.execPath;
const posix = process.platform !== 'win32';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The process group of `pid`. */
async function pgidOf(pid: number): Promise<number> {
  const r = await runProcess('ps', ['-o', 'pgid=', '-p', String(pid)]);
  return Number(r.stdout.trim());
}

describe('runProcess', () => {
  it('collects stdout and stderr (without the final newline) and the exit code', async () => {
    const r = await runProcess(node, ['-e', 'console.log("out"); console.error("err"); process.exit(3)']);
    expect(r).toMatchObject({ exitCode: 3, stdout: 'out', stderr: 'err', timedOut: false });
    expect(r.error).toBeUndefined();
    expect(r.failure).toMatch(/^Command failed with exit code 3: /);
    expect(r.pid).toBeGreaterThan(0);
  });

  it('says nothing failed when it exits 0', async () => {
    const r = await runProcess(node, ['-e', 'process.stdout.write("a\\nb\\n")']);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'a\nb', stderr: '', timedOut: false });
    expect(r.failure).toBeUndefined();
  });

  it('writes the input to stdin and closes it; without input, stdin is empty', async () => {
    const echo = ['-e', 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(`[${s}]`))'];
    expect((await runProcess(node, echo, { input: 'hello' })).stdout).toBe('[hello]');
    expect((await runProcess(node, echo, { input: '' })).stdout).toBe('[]');
    expect((await runProcess(node, echo)).stdout).toBe('[]');
  });

  it('gives the child exactly the environment it is given, in the folder it is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'process-test-'));
    dirs.push(dir);
    const r = await runProcess(node, ['-e', 'console.log(JSON.stringify([process.env.ONLY, process.env.HOME ?? null, process.cwd()]))'], {
      env: { ONLY: 'this' },
      cwd: dir,
    });
    const [only, home, cwd] = JSON.parse(r.stdout) as [string, string | null, string];
    expect([only, home]).toEqual(['this', null]);
    expect(cwd.endsWith(dir.split('/').pop()!)).toBe(true);
  });

  it('says why a command could not start', async () => {
    const r = await runProcess('claude-mlflow-no-such-command', ['x']);
    expect(r.exitCode).toBeUndefined();
    expect(r.error).toMatch(/ENOENT/);
    expect(r.failure).toMatch(/ENOENT/);
    expect(r.timedOut).toBe(false);
  });

  it('kills a child at its timeout: SIGKILL by default, or SIGTERM', async () => {
    const started = Date.now();
    const killed = await runProcess(node, ['-e', 'setTimeout(() => {}, 30_000)'], { timeoutMs: 300 });
    expect(killed).toMatchObject({ timedOut: true });
    expect(killed.exitCode).toBeUndefined();
    expect(killed.error).toBeUndefined();
    expect(killed.failure).toMatch(/timed out after 300 milliseconds/);
    const termed = await runProcess(node, ['-e', 'setTimeout(() => {}, 30_000)'], { timeoutMs: 300, killSignal: 'SIGTERM' });
    expect(termed).toMatchObject({ timedOut: true });
    expect(termed.exitCode).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('runs a command line through a shell', async () => {
    const r = await runProcess('echo "$GREETING" world; exit 4', [], {
      shell: posix ? '/bin/sh' : true,
      env: { ...process.env, GREETING: 'hello' },
    });
    expect(r).toMatchObject({ exitCode: 4, stdout: 'hello world' });
  });

  it('streams output to onOutput instead of collecting it', async () => {
    const chunks: string[] = [];
    const r = await runProcess(node, ['-e', 'console.log("one"); console.error("two")'], {
      onOutput: (chunk, stream) => chunks.push(`${stream}:${chunk}`),
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(chunks.sort()).toEqual(['stderr:two\n', 'stdout:one\n']);
  });

  it.skipIf(!posix)('detached: the child runs in a process group of its own', async () => {
    const ours = await pgidOf(process.pid);
    const same = await runProcess('/bin/sh', ['-c', 'ps -o pgid= -p $$']);
    const own = await runProcess('/bin/sh', ['-c', 'ps -o pgid= -p $$'], { detached: true });
    expect(Number(same.stdout.trim())).toBe(ours);
    expect(Number(own.stdout.trim())).toBe(own.pid);
  });
});

describe('startPiped', () => {
  const echoLines = [
    '-e',
    'require("readline").createInterface({ input: process.stdin }).on("line", (l) => console.log(`echo ${l}`)).on("close", () => process.exit(7))',
  ];

  it('talks a line protocol over stdin and stdout, and ends when stdin closes', async () => {
    const child = await startPiped(node, echoLines);
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    child.stdin.write('a\n');
    child.stdin.write('b\n');
    child.stdin.end();
    expect(await child.ended).toEqual({ exitCode: 7 });
    expect(lines).toEqual(['echo a', 'echo b']);
  });

  it('kill sends the signal; ended says which', async () => {
    const child = await startPiped(node, echoLines, { detached: true });
    child.kill('SIGTERM');
    expect(await child.ended).toEqual({ signal: 'SIGTERM' });
  });

  it('ended says why it could not start', async () => {
    const child = await startPiped('claude-mlflow-no-such-command', []);
    child.stdin.on('error', () => undefined);
    const end = await child.ended;
    expect(end.error).toMatch(/ENOENT/);
    expect(end.exitCode).toBeUndefined();
  });

  it('passes its stderr through', async () => {
    const child = await startPiped(node, ['-e', 'console.error("oops"); process.exit(1)'], { env: { PATH: process.env.PATH } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdout.resume();
    expect(await child.ended).toEqual({ exitCode: 1 });
    expect(stderr).toBe('oops\n');
  });
});

describe('startDetached', () => {
  it.skipIf(!posix)('starts a child in a process group of its own, its output to a log file, and does not wait for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'process-test-'));
    dirs.push(dir);
    const logFile = join(dir, 'log');
    const log = openSync(logFile, 'a');
    const child = startDetached(node, ['-e', 'console.log("to the log"); console.error("errors too"); setTimeout(() => {}, 1500)'], {
      logFd: log,
      cwd: dir,
    });
    closeSync(log);
    expect(child.pid).toBeGreaterThan(0);
    expect(await pgidOf(child.pid!)).toBe(child.pid);
    for (let i = 0; i < 50 && !readFileSync(logFile, 'utf8').includes('errors too'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(logFile, 'utf8')).toBe('to the log\nerrors too\n');
    process.kill(child.pid!, 'SIGKILL');
  });

  it('says why it could not start', async () => {
    const child = startDetached('claude-mlflow-no-such-command', []);
    expect(child.pid).toBeUndefined();
    expect(await child.error).toMatch(/ENOENT/);
  });
});
