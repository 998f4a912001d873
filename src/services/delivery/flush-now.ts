/**
 * Deliver the spool now, for `flush`, `doctor --fix`, `migrate` and
 * `cleanup`: under the same lock as the delivery process, so that only one
 * process sends at a time. When a delivery process is already at work, wait
 * for it instead, up to the deadline.
 */
import { existsSync, rmSync } from 'node:fs';
import { tryLock, type HeldLock } from '../../adapters/file-lock.js';
import { listSpoolFiles } from '../../adapters/spool.js';
import { sleep } from '../../adapters/sleep.js';
import { paths } from '../../config.js';
import { flushSpool, type FlushResult } from './deliver.js';
import { startDelivery } from './launch.js';
import { DELIVERY_LOCK, deliveryLockFile, LOCK_HEARTBEAT_MS, pauseFile, recordPass } from './state.js';
import { ensurePrivateDir, writeFileAtomic } from '../../adapters/fs-atomic.js';

const WAIT_POLL_MS = 100;

/** The delivery lock, held by this process with its heartbeat running. */
export interface HeldDelivery {
  release(): void;
}

function hold(lock: HeldLock): HeldDelivery {
  const heartbeat = setInterval(() => lock.refresh(), LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  return {
    release() {
      clearInterval(heartbeat);
      lock.release();
    },
  };
}

/**
 * Take the delivery lock, waiting up to `timeoutMs` for a delivery process
 * at work to let go: while it is held, hooks spool and no process delivers.
 * With `pause`, a delivery process at work is asked to step aside at its
 * next pass (migrate, which stops the server it delivers to). Undefined when
 * the lock stayed taken.
 */
export async function holdDelivery(
  dataRoot: string,
  timeoutMs: number,
  options: { pause?: boolean } = {},
): Promise<HeldDelivery | undefined> {
  const spool = paths(dataRoot).spool;
  const file = deliveryLockFile(spool);
  if (options.pause) {
    ensurePrivateDir(spool);
    writeFileAtomic(pauseFile(spool), `${process.pid}\n`, 0o600);
  }
  const unpause = (): void => {
    if (options.pause) rmSync(pauseFile(spool), { force: true });
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    const lock = tryLock(file, DELIVERY_LOCK);
    if (lock) {
      const held = hold(lock);
      return {
        release() {
          held.release();
          unpause();
        },
      };
    }
    if (Date.now() >= until) {
      unpause();
      return undefined;
    }
    await sleep(WAIT_POLL_MS);
  }
}

/** `held`: the lock, taken earlier with holdDelivery; it is released here. */
export async function deliverSpoolNow(
  dataRoot: string,
  deadline: number,
  env: NodeJS.ProcessEnv,
  held?: HeldDelivery,
): Promise<FlushResult> {
  const spool = paths(dataRoot).spool;
  // No spool folder: nothing was ever spooled here, and there is no lock to take.
  if (!held && !existsSync(spool)) return { delivered: 0, remaining: 0, unreadable: [], rejected: [], down: false, seen: [] };
  const before = listSpoolFiles(spool);
  for (;;) {
    const lock = held ?? (await holdDelivery(dataRoot, 0));
    if (lock) {
      let result: FlushResult;
      try {
        result = await flushSpool(spool, { deadline }, env);
        recordPass(spool, result);
      } finally {
        lock.release();
      }
      // What a delivery process sent before we had the lock counts too.
      const seen = new Set(result.seen);
      result.delivered += before.filter((file) => !seen.has(file) && !existsSync(file)).length;
      // Hooks that spooled while we held the lock started no delivery process: start one for them.
      if (listSpoolFiles(spool).some((file) => !seen.has(file))) startDelivery(dataRoot, env);
      return result;
    }
    const left = listSpoolFiles(spool);
    if (left.length === 0 || Date.now() >= deadline) {
      const remaining = left.length;
      const delivered = before.filter((file) => !left.includes(file)).length;
      return {
        delivered,
        remaining,
        unreadable: [],
        rejected: [],
        down: remaining > 0,
        seen: before,
        ...(remaining ? { error: 'a delivery process is still at work on the spool' } : {}),
      };
    }
    await sleep(WAIT_POLL_MS);
  }
}
