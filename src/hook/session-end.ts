/**
 * At SessionEnd, Claude Code waits for its hooks (1.5 s by default in
 * 2.1.197, then it kills them) before it exits. A container may be gone
 * right after `claude -p` exits, taking a detached delivery process with it,
 * so the hook waits here, bounded, until the traces waiting at this moment
 * (and the turns left to the delivery process) are delivered. It stops
 * waiting at once when the server is failing: they stay spooled for the
 * next session, `flush` or `server start`.
 */
import { existsSync } from 'node:fs';
import { listPending } from '../adapters/pending.js';
import { listSpoolFiles } from '../adapters/spool.js';
import { sleep } from '../adapters/sleep.js';
import { readDeliveryRecord } from '../services/delivery/state.js';

/** Well inside Claude Code's 1.5 s for SessionEnd hooks, with room for Node's start. */
export const SESSION_END_WAIT_MS = 1000;
const POLL_MS = 20;

export interface SessionEndWait {
  waitedMs: number;
  /** Traces waiting when the session ended. */
  waiting: number;
  /** Of those, the ones still in the spool when the hook stopped waiting. */
  left: number;
}

export async function awaitSessionDelivery(spoolDir: string, startDelivery: () => unknown): Promise<SessionEndWait> {
  const started = Date.now();
  const waiting = listSpoolFiles(spoolDir);
  // Turns left to the delivery process (their transcript came late): their traces join the spool as they are built.
  const pending = listPending(spoolDir);
  if (waiting.length === 0 && pending.length === 0) return { waitedMs: 0, waiting: 0, left: 0 };
  startDelivery();
  const known = new Set(waiting);
  const built = (): string[] => (pending.length > 0 ? listSpoolFiles(spoolDir).filter((file) => !known.has(file)) : []);
  const left = (): number =>
    waiting.filter((file) => existsSync(file)).length + pending.filter((file) => existsSync(file)).length + built().length;
  const failedSince = (): boolean => (readDeliveryRecord(spoolDir).lastFailureAt ?? 0) >= started;
  while (left() > 0 && !failedSince() && Date.now() - started < SESSION_END_WAIT_MS) await sleep(POLL_MS);
  return { waitedMs: Date.now() - started, waiting: waiting.length + pending.length, left: left() };
}
