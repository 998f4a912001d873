/** One-line error log for the hook, with bounded rotation (one old file kept). */
import { appendFileSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from './fs-atomic.js';

export const MAX_LOG_BYTES = 1_000_000;

export function logLine(file: string, level: 'error' | 'warn' | 'info', message: string, now = new Date()): void {
  try {
    ensurePrivateDir(dirname(file));
    try {
      if (statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
    } catch {
      // no log yet
    }
    const oneLine = message.replace(/\s*\n\s*/g, ' ').slice(0, 2000);
    appendFileSync(file, `${now.toISOString()} ${level} ${oneLine}\n`, { mode: 0o600 });
  } catch {
    // Logging must never break the hook.
  }
}
