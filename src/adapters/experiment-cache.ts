/**
 * Experiment ids the hook resolved by name, remembered for a while beside
 * the spool, so that a hook against a distant server makes one round trip
 * less. An entry lives an hour; StartTraceV3 checks that the experiment still
 * exists and is active, and an id it refuses is forgotten and looked up again.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.js';

export const EXPERIMENT_CACHE_TTL_MS = 60 * 60_000;

interface CacheEntry {
  id: string;
  at: number;
}

/** Beside the spool; its leading dot keeps it out of the spool's listing. */
export function experimentCacheFileIn(spoolDir: string): string {
  return join(spoolDir, '.experiments.json');
}

const keyOf = (trackingUri: string, name: string): string => `${trackingUri.replace(/\/+$/, '')} ${name}`;

function readAll(file: string): Record<string, CacheEntry> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, CacheEntry>) : {};
  } catch {
    return {};
  }
}

export function cachedExperimentId(file: string, trackingUri: string, name: string, now = Date.now()): string | undefined {
  const entry = readAll(file)[keyOf(trackingUri, name)];
  if (!entry || typeof entry.id !== 'string' || !Number.isFinite(entry.at)) return undefined;
  return now - entry.at < EXPERIMENT_CACHE_TTL_MS && entry.at <= now ? entry.id : undefined;
}

/** Remember (or, with id undefined, forget) one name's id. Best effort: a failed write only costs a lookup. */
export function rememberExperimentId(file: string, trackingUri: string, name: string, id: string | undefined, now = Date.now()): void {
  try {
    const all = readAll(file);
    const key = keyOf(trackingUri, name);
    if (id === undefined) delete all[key];
    else all[key] = { id, at: now };
    for (const [k, v] of Object.entries(all)) if (!(now - v.at < EXPERIMENT_CACHE_TTL_MS)) delete all[k];
    ensurePrivateDir(dirname(file));
    writeFileAtomic(file, JSON.stringify(all), 0o600);
  } catch {
    // a read-only data folder: resolve by name each time
  }
}
