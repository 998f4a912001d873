/** hostContext: what a command takes from the process, built in one place. */
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hostContext } from '../../src/commands/host.js';

const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

function withStdinTty<T>(isTTY: boolean, run: () => T): T {
  const before = process.stdin.isTTY;
  process.stdin.isTTY = isTTY;
  try {
    return run();
  } finally {
    process.stdin.isTTY = before;
  }
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('hostContext', () => {
  it('the data folder from CLAUDE_MLFLOW_HOME, the home from HOME, the environment itself', () => {
    vi.stubEnv('CLAUDE_MLFLOW_HOME', '/data/claude-mlflow');
    vi.stubEnv('HOME', '/home/someone');
    const host = hostContext();
    expect(host.dataRoot).toBe('/data/claude-mlflow');
    expect(host.home).toBe('/home/someone');
    expect(host.env).toBe(process.env);
  });

  it('the project: --project made absolute, else the current folder', () => {
    expect(hostContext({ project: 'some/where' }).project).toBe(path.resolve('some/where'));
    expect(hostContext({}).project).toBe(process.cwd());
    expect(hostContext().project).toBe(process.cwd());
  });

  it('print writes one line to stdout', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    hostContext().print('hello');
    expect(write).toHaveBeenCalledWith('hello\n');
  });

  it('interactive: stdin and the questions stream are terminals, and CI is not set', () => {
    vi.stubEnv('CI', '');
    expect(withStdinTty(true, () => hostContext({}, tty).interactive)).toBe(true);
    expect(withStdinTty(false, () => hostContext({}, tty).interactive)).toBe(false);
    expect(withStdinTty(true, () => hostContext({}, pipe).interactive)).toBe(false);
    vi.stubEnv('CI', 'true');
    expect(withStdinTty(true, () => hostContext({}, tty).interactive)).toBe(false);
  });

  it('confirm: a question only when interactive', () => {
    vi.stubEnv('CI', '');
    expect(withStdinTty(true, () => hostContext({}, tty).confirm(false))).toBeTypeOf('function');
    expect(withStdinTty(false, () => hostContext({}, tty).confirm(true))).toBeUndefined();
  });

  it('color: stdout is a terminal and NO_COLOR is not set', () => {
    const before = process.stdout.isTTY;
    try {
      process.stdout.isTTY = true;
      vi.stubEnv('NO_COLOR', '');
      expect(hostContext().color).toBe(true);
      vi.stubEnv('NO_COLOR', '1');
      expect(hostContext().color).toBe(false);
      process.stdout.isTTY = false;
      vi.stubEnv('NO_COLOR', '');
      expect(hostContext().color).toBe(false);
    } finally {
      process.stdout.isTTY = before;
    }
  });
});
