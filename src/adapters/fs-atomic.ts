/** Atomic file writes: a temp file beside the target, fsync, then rename. */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './file-lock.js';

/** Create a private folder (0700) and its parents. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/**
 * Remove the temp files that writeFileAtomic left beside files named
 * `<name>…` in `dir` when its process was killed before the rename. Only a
 * dead process's: a live one may be about to rename its temp file.
 */
export function removeDeadTempFiles(dir: string, name: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(`.${name}.`) || !entry.endsWith('.tmp')) continue;
    const pid = Number(/\.(\d+)\.\d+\.tmp$/.exec(entry)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) rmSync(join(dir, entry), { force: true });
  }
}

/**
 * Write `data` to `target` so that a reader (or a crash) sees either the old
 * file or the new one, never a torn one. The temp files that a killed earlier
 * write of the same target left are removed first.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array | Iterable<string>, mode = 0o600): void {
  removeDeadTempFiles(dirname(target), basename(target));
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
