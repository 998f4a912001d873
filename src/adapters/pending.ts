/**
 * Hook inputs written ahead of the work: the hook records its input (and
 * where the trace goes) before it builds the trace, and removes the record
 * once the trace is in the spool. A record left behind belongs to a hook
 * that was stopped first (its time cap on a starved machine, Claude Code's
 * timeout, a crash); the delivery process builds that turn instead, so no
 * turn is lost. One file each in `spool/pending/`, 0600.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SpoolTarget } from './spool.js';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.js';

export interface PendingTurn {
  version: 1;
  /** The hook input as Claude Code gave it. */
  input: Record<string, unknown>;
  target: SpoolTarget;
  /** The environment values the trace context takes (the user). */
  user?: string;
  /** The transcripts' sizes when the hook ran. */
  bytes: { file?: number; parent?: number };
  /** The hook process that wrote it: once it is gone, nobody else is at work on the turn. */
  pid?: number;
}

const SUFFIX = '.pending.json';

export function pendingDir(spoolDir: string): string {
  return join(spoolDir, 'pending');
}

export function writePending(spoolDir: string, turn: PendingTurn, now = Date.now()): string {
  const dir = pendingDir(spoolDir);
  ensurePrivateDir(dir);
  const file = join(dir, `${String(now).padStart(15, '0')}-${randomBytes(6).toString('hex')}${SUFFIX}`);
  writeFileAtomic(file, JSON.stringify(turn), 0o600);
  return file;
}

export function removePending(file: string): void {
  rmSync(file, { force: true });
}

/** Pending records, oldest first. */
export function listPending(spoolDir: string): string[] {
  try {
    return readdirSync(pendingDir(spoolDir))
      .filter((name) => name.endsWith(SUFFIX) && !name.startsWith('.'))
      .sort()
      .map((name) => join(pendingDir(spoolDir), name));
  } catch {
    return [];
  }
}

/** How long ago the record was written, in ms (Infinity when it is gone). */
export function pendingAge(file: string, now = Date.now()): number {
  try {
    return now - statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

export function readPending(file: string): PendingTurn | undefined {
  try {
    const turn = JSON.parse(readFileSync(file, 'utf8')) as PendingTurn;
    return turn.version === 1 && turn.input && typeof turn.input === 'object' && turn.target ? turn : undefined;
  } catch {
    return undefined;
  }
}
