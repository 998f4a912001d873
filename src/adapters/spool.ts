/**
 * Traces that could not be delivered wait here, one file each, written
 * atomically with mode 0600. File names sort in creation order.
 */
import { readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { TraceModel } from '../core/trace-model.js';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.js';

export interface SpoolTarget {
  trackingUri: string;
  experiment: { id: string } | { name: string };
}

export interface SpoolRecord {
  version: 1;
  spooledAt: string;
  target: SpoolTarget;
  trace: TraceModel;
}

export interface SpoolEntry {
  file: string;
  record: SpoolRecord;
}

const SUFFIX = '.trace.json';

/** How many traces the spool holds at most; `CLAUDE_MLFLOW_SPOOL_MAX` changes it. */
export const DEFAULT_SPOOL_MAX = 1000;

export function spoolMax(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.CLAUDE_MLFLOW_SPOOL_MAX);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_SPOOL_MAX;
}

export interface Spooled {
  file: string;
  /** The oldest spooled files removed to keep the spool within its bound. */
  evicted: string[];
}

/**
 * Spool a trace. The spool is bounded: past `max` traces the oldest are
 * removed, and the caller reports them — an eviction is never silent.
 */
export function spoolTrace(dir: string, target: SpoolTarget, trace: TraceModel, now = new Date(), max = DEFAULT_SPOOL_MAX): Spooled {
  ensurePrivateDir(dir);
  const record: SpoolRecord = { version: 1, spooledAt: now.toISOString(), target, trace };
  // The trace id in the name makes a re-spool of the same trace replace the old file.
  const stamp = String(now.getTime()).padStart(15, '0');
  const existing = listSpoolFiles(dir).find((f) => f.endsWith(`-${trace.traceId}${SUFFIX}`));
  const file = existing ?? join(dir, `${stamp}-${trace.traceId}${SUFFIX}`);
  writeFileAtomic(file, recordJson(record), 0o600);
  const all = listSpoolFiles(dir);
  const evicted = all.length > max ? all.filter((f) => f !== file).slice(0, all.length - max) : [];
  for (const old of evicted) rmSync(old, { force: true });
  return { file, evicted };
}

/** The record's JSON text in pieces, a span at a time: a large trace is never one string in memory. */
function* recordJson(record: SpoolRecord): Generator<string> {
  const { version, spooledAt, target, trace } = record;
  const { spans, ...rest } = trace;
  // `spans` is the last key of `trace`, the last key of the record: the text ends with `[]}}`.
  const shell = JSON.stringify({ version, spooledAt, target, trace: { ...rest, spans: [] } });
  yield shell.slice(0, -3);
  for (const [index, span] of spans.entries()) yield `${index ? ',' : ''}${JSON.stringify(span)}`;
  yield shell.slice(-3);
}

/** The trace id in a spool file's name. */
export function spooledTraceId(file: string): string {
  return basename(file, SUFFIX).replace(/^\d+-/, '');
}

export function listSpoolFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(SUFFIX) && !name.startsWith('.'))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** One spooled trace; undefined when the file cannot be read or is not a spool record. */
export function readSpoolEntry(file: string): SpoolEntry | undefined {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as SpoolRecord;
    if (record.version !== 1 || !record.trace?.traceId) return undefined;
    return { file, record };
  } catch {
    return undefined;
  }
}

/** Spooled traces in order. A file that cannot be read or parsed is reported, not thrown. */
export function readSpool(dir: string): { entries: SpoolEntry[]; unreadable: string[] } {
  const entries: SpoolEntry[] = [];
  const unreadable: string[] = [];
  for (const file of listSpoolFiles(dir)) {
    const entry = readSpoolEntry(file);
    if (entry) entries.push(entry);
    else unreadable.push(file);
  }
  return { entries, unreadable };
}

/** When a spool file was written, from the time stamp that starts its name. */
export function spooledAt(file: string): number | undefined {
  const stamp = /^(\d{13,})-/.exec(basename(file))?.[1];
  return stamp === undefined ? undefined : Number(stamp);
}

export function removeSpoolFile(file: string): void {
  rmSync(file, { force: true });
}

/** Move a trace the server refuses for good into `rejected/`, out of the delivery queue. */
export function quarantineSpoolFile(file: string): string {
  const dir = join(dirname(file), 'rejected');
  ensurePrivateDir(dir);
  const target = join(dir, basename(file));
  renameSync(file, target);
  return target;
}

/** A write cut short (a killed hook) leaves a hidden temp file; remove those older than `maxAgeMs`. */
export function removeStaleTempFiles(dir: string, maxAgeMs = 10 * 60 * 1000, now = Date.now()): number {
  let removed = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
    const file = join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > maxAgeMs) {
        rmSync(file, { force: true });
        removed += 1;
      }
    } catch {
      // gone already
    }
  }
  return removed;
}
