/**
 * Backoff after slow failures. A server that hangs costs each hook its whole
 * time budget; after such a failure the next hooks spool at once, without
 * waiting on the network, until the backoff runs out. A refused connection
 * is cheap and sets no backoff: a local server that is down is retried every time.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.js';

/** The backoff state lives beside the spool; its leading dot keeps it out of the spool's listing. */
export function backoffFileIn(spoolDir: string): string {
  return join(spoolDir, '.backoff.json');
}

export interface BackoffState {
  failures: number;
  /** Epoch ms before which hooks do not try the server. */
  retryAt: number;
}

const FIRST_DELAY_MS = 5_000;
const MAX_DELAY_MS = 10 * 60_000;

/** 5 s, 10 s, 20 s, … up to 10 minutes. */
export function backoffDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(failures - 1, 20));
}

export function readBackoff(file: string): BackoffState {
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as BackoffState;
    if (Number.isFinite(state.failures) && Number.isFinite(state.retryAt)) return state;
  } catch {
    // none
  }
  return { failures: 0, retryAt: 0 };
}

export function recordSlowFailure(file: string, now = Date.now()): BackoffState {
  const failures = readBackoff(file).failures + 1;
  const state = { failures, retryAt: now + backoffDelayMs(failures) };
  ensurePrivateDir(dirname(file));
  writeFileAtomic(file, JSON.stringify(state), 0o600);
  return state;
}

export function clearBackoff(file: string): void {
  rmSync(file, { force: true });
}
