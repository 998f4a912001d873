/**
 * Lock files held by real processes: created exclusively, holding the
 * holder's pid and host. A lock is stale when its process is gone, or when
 * its holder stopped refreshing it for longer than `staleMs` (a process that
 * hangs, or a pid that was reused). Breakers take turns and re-check before
 * deleting, so a lock that another process took meanwhile is never deleted.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { CliError } from '../errors.js';
import { sleep } from './sleep.js';

export interface LockOptions {
  /** A lock not refreshed for this long is broken even when its process still runs. */
  staleMs: number;
}

/** A lock file without a pid (its writer died between create and write) is broken after this. */
const EMPTY_LOCK_MS = 2_000;

interface LockSnapshot {
  ino: number;
  mtimeMs: number;
  content: string;
}

function snapshot(lock: string): LockSnapshot | undefined {
  try {
    const stat = statSync(lock);
    return { ino: stat.ino, mtimeMs: stat.mtimeMs, content: readFileSync(lock, 'utf8') };
  } catch {
    return undefined;
  }
}

function sameLock(a: LockSnapshot, b: LockSnapshot): boolean {
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.content === b.content;
}

/** Whether pid is a live process: an exited one not yet reaped (a zombie, on Linux) is not. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

function holderPid(lock: LockSnapshot): number | undefined {
  const pid = Number(lock.content.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isStale(lock: LockSnapshot, options: LockOptions): boolean {
  const age = Date.now() - lock.mtimeMs;
  const pid = holderPid(lock);
  if (pid === undefined) return age > EMPTY_LOCK_MS;
  if (age > options.staleMs) return true;
  const host = lock.content.split('\n')[1];
  const sameHost = !host || host === hostname();
  return sameHost && !processAlive(pid);
}

/** Create the lock file exclusively, holding our pid. Returns undefined when it is taken. */
function tryAcquire(lock: string): LockSnapshot | undefined {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw new CliError(`cannot create the lock file ${lock}: ${(error as Error).message}`);
  }
  try {
    writeSync(fd, `${process.pid}\n${hostname()}\n`);
  } finally {
    closeSync(fd);
  }
  return snapshot(lock);
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Break the lock if it is stale. Returns true when it is worth retrying at
 * once (the lock is gone, or we broke it).
 */
function breakIfStale(lock: string, options: LockOptions): boolean {
  const seen = snapshot(lock);
  if (seen === undefined) return true;
  if (!isStale(seen, options)) return false;
  const breaker = `${lock}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, 'wx', 0o600);
  } catch {
    const old = snapshot(breaker);
    if (old && Date.now() - old.mtimeMs > EMPTY_LOCK_MS) unlinkQuietly(breaker);
    return false;
  }
  closeSync(fd);
  try {
    const now = snapshot(lock);
    if (now && sameLock(now, seen)) unlinkQuietly(lock);
  } finally {
    unlinkQuietly(breaker);
  }
  return true;
}

export interface HeldLock {
  readonly file: string;
  /** Tell waiting processes that the holder is still at work (see LockOptions.staleMs). */
  refresh(): void;
  /** Remove the lock, if it is still the one we created. */
  release(): void;
}

function held(lock: string, mine: LockSnapshot): HeldLock {
  const ours = (): boolean => {
    const now = snapshot(lock);
    return now !== undefined && now.ino === mine.ino && now.content === mine.content;
  };
  return {
    file: lock,
    refresh() {
      if (!ours()) return;
      const now = new Date();
      try {
        utimesSync(lock, now, now);
      } catch {
        // gone: the next release finds nothing to remove
      }
    },
    release() {
      if (ours()) unlinkQuietly(lock);
    },
  };
}

/** Take the lock if it is free or stale; undefined when a live holder has it. Never waits. */
export function tryLock(lock: string, options: LockOptions): HeldLock | undefined {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const mine = tryAcquire(lock);
    if (mine) return held(lock, mine);
    if (!breakIfStale(lock, options)) return undefined;
  }
  return undefined;
}

/** The pid of the live holder of the lock, or undefined when it is free or stale. */
export function lockHolder(lock: string, options: LockOptions): number | undefined {
  const seen = snapshot(lock);
  if (!seen || isStale(seen, options)) return undefined;
  return holderPid(seen);
}

/** Remove the folders withFileLock created, if they are still empty. */
function removeEmptyDirs(from: string, upTo: string | undefined): void {
  if (upTo === undefined) return;
  for (let dir = from; dir.length >= upTo.length; dir = dirname(dir)) {
    try {
      rmdirSync(dir);
    } catch {
      return;
    }
    if (dir === upTo) return;
  }
}

/**
 * Run `fn` while holding `lock`, waiting up to `timeoutMs` (with small
 * random pauses) for a live holder to let go; `onWait` is told once when it
 * has to wait. The lock is refreshed while `fn` runs, so a long `fn` (an
 * install) keeps it however long it takes.
 */
export async function withLock<T>(
  lock: string,
  options: LockOptions & { timeoutMs: number; onWait?: (holder: number | undefined) => void },
  fn: () => Promise<T> | T,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let mine = tryLock(lock, options);
  if (mine === undefined) options.onWait?.(lockHolder(lock, options));
  while (mine === undefined) {
    if (Date.now() >= deadline) {
      throw new CliError(
        `timed out after ${options.timeoutMs} ms waiting for the lock ${lock}; if no other claude-mlflow is running, delete that file`,
      );
    }
    await sleep(5 + Math.random() * 25);
    mine = tryLock(lock, options);
  }
  const held = mine;
  const heartbeat = setInterval(() => held.refresh(), Math.max(1_000, options.staleMs / 4));
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    held.release();
  }
}

/** A settings edit takes milliseconds: a lock older than this is broken even when its process still runs. */
const SETTINGS_STALE_LOCK_MS = 30_000;
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
export const LOCK_SUFFIX = '.claude-mlflow.lock';

/**
 * Run `fn` while holding `<file>.claude-mlflow.lock`. Waits with small
 * random pauses; a stale lock (its process is gone, or it is older than
 * 30 s) is broken. Not re-entrant.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T> | T, options: { timeoutMs?: number } = {}): Promise<T> {
  const lock = `${file}${LOCK_SUFFIX}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const parent = dirname(file);
  let createdDir: string | undefined;
  try {
    createdDir = existsSync(parent) ? undefined : mkdirSync(parent, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new CliError(`cannot create ${parent}: ${(error as Error).message}`);
  }
  try {
    return await withLock(lock, { staleMs: SETTINGS_STALE_LOCK_MS, timeoutMs }, fn);
  } finally {
    removeEmptyDirs(parent, createdDir);
  }
}
