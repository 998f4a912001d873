/**
 * Lock files held by real processes: a live holder keeps the lock, a dead
 * one (or a holder that stopped refreshing it) loses it, and the holder's
 * refresh keeps a long-lived lock from going stale.
 */
import { execa } from 'execa';
import { existsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockHolder, tryLock } from '../../src/adapters/file-lock.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const STALE = { staleMs: 60_000 };

/** A real process that stays alive until killed. */
function liveProcess() {
  return execa(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { reject: false });
}

describe('tryLock', () => {
  it('takes a free lock, refuses a second taker while held, and frees it on release', () => {
    const file = path.join(tmp.path, 'x.lock');
    const first = tryLock(file, STALE);
    expect(first).toBeDefined();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(lockHolder(file, STALE)).toBe(process.pid);
    expect(tryLock(file, STALE)).toBeUndefined();
    first!.release();
    expect(existsSync(file)).toBe(false);
    expect(lockHolder(file, STALE)).toBeUndefined();
  });

  it('keeps a lock that a live process holds, and breaks it once that process is gone', async () => {
    const file = path.join(tmp.path, 'x.lock');
    const holder = liveProcess();
    writeFileSync(file, `${holder.pid}\n${hostname()}\n`);
    expect(lockHolder(file, STALE)).toBe(holder.pid);
    expect(tryLock(file, STALE)).toBeUndefined();
    holder.kill('SIGKILL');
    await holder;
    expect(lockHolder(file, STALE)).toBeUndefined();
    const mine = tryLock(file, STALE);
    expect(mine).toBeDefined();
    mine!.release();
  });

  it('breaks a lock its live holder stopped refreshing (a reused pid, a hung process)', async () => {
    const file = path.join(tmp.path, 'x.lock');
    const holder = liveProcess();
    try {
      writeFileSync(file, `${holder.pid}\n${hostname()}\n`);
      const old = new Date(Date.now() - 120_000);
      utimesSync(file, old, old);
      expect(lockHolder(file, STALE)).toBeUndefined();
      expect(tryLock(file, STALE)).toBeDefined();
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('refresh keeps a long-held lock fresh; release never removes a lock another process took meanwhile', () => {
    const file = path.join(tmp.path, 'x.lock');
    const mine = tryLock(file, STALE)!;
    const old = new Date(Date.now() - 120_000);
    utimesSync(file, old, old);
    mine.refresh();
    expect(Date.now() - statSync(file).mtimeMs).toBeLessThan(10_000);
    expect(lockHolder(file, STALE)).toBe(process.pid);
    // Someone broke it and took it: our release must leave theirs alone.
    writeFileSync(file, `1\nanother-host\n`);
    mine.release();
    expect(existsSync(file)).toBe(true);
  });

  it('breaks an empty lock file (its writer died between create and write) after a grace period', () => {
    const file = path.join(tmp.path, 'x.lock');
    writeFileSync(file, '');
    expect(tryLock(file, STALE)).toBeUndefined();
    const old = new Date(Date.now() - 5_000);
    utimesSync(file, old, old);
    expect(tryLock(file, STALE)).toBeDefined();
  });
});
