/**
 * What the delivery process leaves for `status`, `doctor` and the next
 * process: its lock (held while it delivers) and a small record of the last
 * attempt and the last success. Both live beside the spool; their leading
 * dots keep them out of the spool's listing.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../../adapters/fs-atomic.js';
import { lockHolder, processAlive, type LockOptions } from '../../adapters/file-lock.js';
import { listSpoolFiles, spooledAt } from '../../adapters/spool.js';

/** The delivery process refreshes its lock this often ... */
export const LOCK_HEARTBEAT_MS = 5_000;
/** ... and a lock left unrefreshed this long is broken, even when its pid is alive (reused). */
export const DELIVERY_LOCK: LockOptions = { staleMs: 60_000 };

export function deliveryLockFile(spoolDir: string): string {
  return join(spoolDir, '.delivery.lock');
}

/** While this file names a live process, delivery processes step aside (migrate moves the server). */
export function pauseFile(spoolDir: string): string {
  return join(spoolDir, '.delivery.paused');
}

export function deliveryPaused(spoolDir: string): boolean {
  return !clearDeadPause(spoolDir);
}

/**
 * Remove the pause file when its holder is dead (a killed migrate), unless it
 * was replaced meanwhile. True when no pause is in force afterwards.
 */
export function clearDeadPause(spoolDir: string): boolean {
  const file = pauseFile(spoolDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return true;
  }
  const pid = Number(text.split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return false;
  try {
    if (readFileSync(file, 'utf8') === text) rmSync(file, { force: true });
  } catch {
    // gone meanwhile
  }
  return true;
}

function recordFile(spoolDir: string): string {
  return join(spoolDir, '.delivery.json');
}

export interface DeliveryRecord {
  /** Epoch ms of the last trace the server took. */
  lastSuccessAt?: number;
  /** Epoch ms of the last failed attempt, and why it failed. */
  lastFailureAt?: number;
  lastError?: string;
}

export function readDeliveryRecord(spoolDir: string): DeliveryRecord {
  try {
    const parsed = JSON.parse(readFileSync(recordFile(spoolDir), 'utf8')) as DeliveryRecord;
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/** Merge `change` into the record. Only the holder of the delivery lock writes it. */
export function updateDeliveryRecord(spoolDir: string, change: DeliveryRecord): DeliveryRecord {
  const next = { ...readDeliveryRecord(spoolDir), ...change };
  ensurePrivateDir(spoolDir);
  writeFileAtomic(recordFile(spoolDir), JSON.stringify(next), 0o600);
  return next;
}

/** Note a delivery pass: when the server last took a trace, and the last failure. */
export function recordPass(spoolDir: string, pass: { delivered: number; error?: string }): void {
  const now = Date.now();
  if (pass.delivered > 0) updateDeliveryRecord(spoolDir, { lastSuccessAt: now });
  if (pass.error) updateDeliveryRecord(spoolDir, { lastFailureAt: now, lastError: pass.error });
}

export interface DeliveryState extends DeliveryRecord {
  /** The pid of the delivery process at work, if one is. */
  runningPid?: number;
  waiting: number;
  /** Epoch ms at which the oldest waiting trace was spooled. */
  oldestSpooledAt?: number;
}

export function deliveryState(spoolDir: string): DeliveryState {
  const files = listSpoolFiles(spoolDir);
  const oldest = files[0] ? spooledAt(files[0]) : undefined;
  const pid = lockHolder(deliveryLockFile(spoolDir), DELIVERY_LOCK);
  return {
    ...readDeliveryRecord(spoolDir),
    ...(pid ? { runningPid: pid } : {}),
    waiting: files.length,
    ...(oldest !== undefined ? { oldestSpooledAt: oldest } : {}),
  };
}
