/** Atomic file writes: a temp file beside the target, fsync, then rename. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Create a private folder (0700) and its parents. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/**
 * Write `data` to `target` so that a reader (or a crash) sees either the old
 * file or the new one, never a torn one.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array | Iterable<string>, mode = 0o600): void {
  const temp = tempPathFor(target);
  const fd = openSync(temp, 'wx', mode);
  try {
    // Pieces are written one by one: a large file is never one string in memory.
    if (typeof data === 'string' || data instanceof Uint8Array) writeFileSync(fd, data);
    else for (const piece of data) writeSync(fd, piece);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
