/**
 * `uninstall --purge` asks only where every other command asks: on a
 * terminal, and never in CI (it used to ask in CI when it had a terminal).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const runUninstall = vi.fn(async (_options: { confirm?: unknown }) => 0);
vi.mock('../../src/init/run-uninstall.js', () => ({ runUninstall }));

const { runUninstallCommand } = await import('../../src/commands/uninstall.js');

describe('uninstall: whether it may ask', () => {
  const saved = { stdin: process.stdin.isTTY, stdout: process.stdout.isTTY, ci: process.env.CI };

  beforeEach(() => {
    runUninstall.mockClear();
    process.stdin.isTTY = true;
    process.stdout.isTTY = true;
  });

  afterEach(() => {
    process.stdin.isTTY = saved.stdin;
    process.stdout.isTTY = saved.stdout;
    if (saved.ci === undefined) delete process.env.CI;
    else process.env.CI = saved.ci;
  });

  it('asks on a terminal outside CI', async () => {
    delete process.env.CI;
    await runUninstallCommand({ project: '.' });
    expect(runUninstall.mock.calls[0]![0].confirm).toBeTypeOf('function');
  });

  it('does not ask in CI, even on a terminal', async () => {
    process.env.CI = 'true';
    await runUninstallCommand({ project: '.' });
    expect(runUninstall.mock.calls[0]![0].confirm).toBeUndefined();
  });
});
