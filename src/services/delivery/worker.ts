/**
 * The delivery process: one per data folder, started detached by the hook
 * (and by `init` and `server start`). It sends the spool oldest first,
 * retries with backoff while the server is down, and exits when the spool
 * is empty, or when the newest waiting trace has waited longer than the
 * retry window; the next session, `flush` or `server start` picks up after
 * that. A second process that finds the lock taken exits at once.
 */
import { existsSync } from 'node:fs';
import { processAlive, tryLock, type HeldLock } from '../../adapters/file-lock.js';
import { ensurePrivateDir } from '../../adapters/fs-atomic.js';
import { listPending, pendingAge, readPending, removePending, type PendingTurn } from '../../adapters/pending.js';
import { listSpoolFiles, spooledAt, spoolTrace } from '../../adapters/spool.js';
import { dirname } from 'node:path';
import { TRANSCRIPT_CATCH_UP_MS, traceOfTurn, traceShapingFor, turnTranscripts, type HookInput } from '../turn-trace.js';
import { paths, readConfig } from '../../config.js';
import { sleep } from '../../adapters/sleep.js';
import { deliveryContext, flushSpool } from './deliver.js';
import { DELIVERY_LOCK, deliveryLockFile, deliveryPaused, LOCK_HEARTBEAT_MS, recordPass } from './state.js';

export interface WorkerTiming {
  /** One trace's delivery, at most (a hanging server costs this per attempt). */
  perTraceMs: number;
  /** First pause after a failed pass; it doubles up to maxBackoffMs. */
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** Give up when the newest waiting trace has waited this long. */
  retryWindowMs: number;
  /** The process never lives longer than this. */
  maxLifeMs: number;
  /** Build the turn of a hook input left pending this long (see ADOPT_PENDING_AFTER_MS). */
  adoptPendingAfterMs: number;
}

/** A pending hook input younger than this may belong to a hook still at work (its cap is 1.7 s, Claude Code's timeout 5 s). */
export const ADOPT_PENDING_AFTER_MS = 6_000;

export const WORKER_TIMING: WorkerTiming = {
  perTraceMs: 15_000,
  firstBackoffMs: 250,
  maxBackoffMs: 8_000,
  retryWindowMs: 15 * 60_000,
  maxLifeMs: 60 * 60_000,
  adoptPendingAfterMs: ADOPT_PENDING_AFTER_MS,
};

export interface WorkerOptions {
  spoolDir: string;
  env: NodeJS.ProcessEnv;
  log: (level: 'error' | 'warn' | 'info', message: string) => void;
  timing?: Partial<WorkerTiming>;
}

const PENDING_POLL_MS = 200;

/**
 * A record whose hook is gone and whose transcript is there: nobody else
 * is at work on the turn, and it can be built now rather than when the
 * record is old enough (a hook that found no transcript yet, then exited).
 */
function readyNow(turn: PendingTurn): boolean {
  if (turn.pid === undefined || processAlive(turn.pid)) return false;
  const { file } = turnTranscripts(turn.input as HookInput);
  return file !== undefined && existsSync(file);
}

/**
 * Build the turns of hooks that were stopped before they had spooled them
 * (see adapters/pending.ts). Returns how many records are still too young
 * to adopt.
 */
export async function adoptPending(spoolDir: string, log: WorkerOptions['log'], adoptAfterMs = ADOPT_PENDING_AFTER_MS): Promise<number> {
  let young = 0;
  for (const file of listPending(spoolDir)) {
    const turn = readPending(file);
    if (pendingAge(file) < adoptAfterMs && !(turn && readyNow(turn))) {
      young += 1;
      continue;
    }
    if (turn) {
      // Redacted as the hook would have: with the config and the secrets of the environment it ran in (ours).
      const shaping = traceShapingFor(readConfig(paths(dirname(spoolDir)).config), process.env);
      const trace = await traceOfTurn(
        turn.input as HookInput,
        { USER: turn.user },
        // A transcript that has just appeared may still be short of the turn's last message: wait for it as the hook would.
        { started: Date.now(), catchUpMs: TRANSCRIPT_CATCH_UP_MS, bytes: turn.bytes, log, ...shaping },
      );
      if (typeof trace === 'string' || 'notYet' in trace)
        log('error', `a turn a hook left to the delivery process cannot be traced: ${typeof trace === 'string' ? trace : trace.notYet}`);
      else if (!('elsewhere' in trace)) {
        for (const one of [...trace.interrupted, trace.trace]) spoolTrace(spoolDir, turn.target, one);
      }
    }
    removePending(file);
  }
  return young;
}

export type WorkerOutcome =
  | { status: 'busy' }
  | { status: 'done'; delivered: number; left: number; reason: 'empty' | 'waiting' | 'gave-up' };

/** The pause after `failures` failed passes in a row: 250 ms, 500 ms, 1 s, … up to the cap. */
export function backoffMs(failures: number, timing: WorkerTiming = WORKER_TIMING): number {
  return Math.min(timing.maxBackoffMs, timing.firstBackoffMs * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

/** Files that arrived after the last pass looked: a hook spooled them while we held the lock. */
function newArrivals(spoolDir: string, seen: readonly string[]): boolean {
  const known = new Set(seen);
  return listSpoolFiles(spoolDir).some((file) => !known.has(file));
}

function newestWait(spoolDir: string, now: number): number {
  const files = listSpoolFiles(spoolDir);
  const newest = files.length ? spooledAt(files[files.length - 1]!) : undefined;
  return newest === undefined ? Infinity : now - newest;
}

export async function runDeliveryWorker(options: WorkerOptions): Promise<WorkerOutcome> {
  const timing = { ...WORKER_TIMING, ...options.timing };
  const { spoolDir, env, log } = options;
  ensurePrivateDir(spoolDir);
  const lockFile = deliveryLockFile(spoolDir);
  let lock: HeldLock | undefined = tryLock(lockFile, DELIVERY_LOCK);
  if (!lock) return { status: 'busy' };
  const heartbeat = setInterval(() => lock?.refresh(), LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  const ctx = deliveryContext(spoolDir);
  const started = Date.now();
  let delivered = 0;
  let failures = 0;
  let lastLogged: string | undefined;
  try {
    for (;;) {
      if (!existsSync(spoolDir)) return done('empty'); // the data folder was removed
      if (deliveryPaused(spoolDir)) return done('empty'); // migrate holds delivery back; it delivers the spool itself
      const young = await adoptPending(spoolDir, log, timing.adoptPendingAfterMs);
      const pass = await flushSpool(spoolDir, { deadline: started + timing.maxLifeMs, perTraceMs: timing.perTraceMs }, env, ctx);
      recordPass(spoolDir, pass);
      delivered += pass.delivered;
      if (pass.rejected.length > 0)
        log('error', `the server refused ${pass.rejected.length} trace(s) for good; moved to ${spoolDir}/rejected: ${pass.error ?? ''}`);
      // One line per distinct failure, not one per retry.
      else if (pass.error && pass.error !== lastLogged)
        log('error', `delivery failed, ${pass.remaining} trace(s) wait in the spool: ${pass.error}`);
      lastLogged = pass.error;
      if (!pass.down && young > 0) {
        // A hook is still at work on its turn, or was stopped: wait to see which.
        await sleep(PENDING_POLL_MS);
        continue;
      }
      if (!pass.down) {
        // Empty, or only traces that wait for something other than time (a refused login).
        // Let go first, then look again: a hook that spooled meanwhile found the lock taken.
        // Our connections close before the lock goes: the next holder is the only one talking to the server.
        ctx.agents.destroy();
        lock.release();
        lock = undefined;
        if (!newArrivals(spoolDir, pass.seen) && listPending(spoolDir).length === 0) return done('empty');
        lock = tryLock(lockFile, DELIVERY_LOCK);
        if (!lock) return done('empty');
        failures = 0;
        continue;
      }
      failures += 1;
      const now = Date.now();
      const waited = newestWait(spoolDir, now);
      if (waited === Infinity) continue; // emptied meanwhile (a flush, a cleanup): look again
      if (waited > timing.retryWindowMs || now - started > timing.maxLifeMs) return done('gave-up');
      await sleep(backoffMs(failures, timing));
    }
  } finally {
    clearInterval(heartbeat);
    ctx.agents.destroy();
    lock?.release();
  }

  function done(reason: 'empty' | 'gave-up'): WorkerOutcome {
    const left = listSpoolFiles(spoolDir).length;
    if (reason === 'gave-up') {
      log(
        'warn',
        `delivery gave up for now: the server did not take traces for ${Math.round((Date.now() - started) / 1000)} s; ${left} wait in the spool for the next session, claude-mlflow flush or server start`,
      );
    }
    return { status: 'done', delivered, left, reason: reason === 'empty' && left > 0 ? 'waiting' : reason };
  }
}
