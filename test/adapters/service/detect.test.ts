/** chooseManager with recording fakes of launchctl and systemctl on PATH. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseManager, createManager } from '../../../src/adapters/service/detect.js';
import { callsFile, fakeContext, makeFakeBin, readCalls } from '../../helpers/fake-bin.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('claude-mlflow-detect-');
});
afterEach(async () => {
  await tmp.cleanup();
});

function context(fakes: Record<string, string>, uid = 501) {
  const bin = path.join(tmp.path, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, script] of Object.entries(fakes)) makeFakeBin(bin, name, script);
  return { ctx: fakeContext({ binDir: bin, home: tmp.path, uid }), calls: () => readCalls(callsFile(bin)) };
}

describe('chooseManager', () => {
  it('linux with a running user systemd: systemd', async () => {
    const { ctx, calls } = context({ systemctl: 'echo HOME=/home/me; exit 0' });
    expect(await chooseManager(ctx, 'linux')).toBe('systemd');
    expect(calls()).toEqual([['systemctl', '--user', 'show-environment']]);
  });

  it('linux without one (container, WSL without systemd): background', async () => {
    const { ctx } = context({ systemctl: 'echo "Failed to connect to bus: No medium found" >&2; exit 1' });
    expect(await chooseManager(ctx, 'linux')).toBe('background');
  });

  it('linux without systemctl at all: background', async () => {
    const { ctx } = context({});
    const noSystemctl = { ...ctx, run: (cmd: string, args: string[]) => ctx.run(cmd === 'systemctl' ? 'no-such-systemctl' : cmd, args) };
    expect(await chooseManager(noSystemctl, 'linux')).toBe('background');
  });

  it('darwin with a GUI session: launchd (asks launchctl about gui/<uid>)', async () => {
    const { ctx, calls } = context({ launchctl: '[ "$1 $2" = "print gui/501" ] && exit 0; exit 113' });
    expect(await chooseManager(ctx, 'darwin')).toBe('launchd');
    expect(calls()).toEqual([['launchctl', 'print', 'gui/501']]);
  });

  it('darwin where launchctl cannot reach a GUI domain (bare SSH): background', async () => {
    const { ctx } = context({ launchctl: 'echo "Could not find domain for user gui: 501" >&2; exit 113' });
    expect(await chooseManager(ctx, 'darwin')).toBe('background');
  });

  it('win32: schtasks; anything else: background; without running anything', async () => {
    const { ctx, calls } = context({ systemctl: 'exit 0', launchctl: 'exit 0' });
    expect(await chooseManager(ctx, 'win32')).toBe('schtasks');
    expect(await chooseManager(ctx, 'freebsd')).toBe('background');
    expect(calls()).toEqual([]);
  });
});

describe('createManager', () => {
  it('returns the manager of that name', () => {
    const { ctx } = context({});
    for (const name of ['launchd', 'systemd', 'schtasks'] as const) expect(createManager(name, ctx).name).toBe(name);
  });
});
