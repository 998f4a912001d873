import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelayMs, backoffFileIn, clearBackoff, readBackoff, recordSlowFailure } from '../../src/adapters/backoff.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('backoff', () => {
  it('doubles from 5 s up to 10 minutes', () => {
    expect([0, 1, 2, 3, 4].map(backoffDelayMs)).toEqual([0, 5_000, 10_000, 20_000, 40_000]);
    expect(backoffDelayMs(8)).toBe(600_000);
    expect(backoffDelayMs(1000)).toBe(600_000);
  });

  it('counts slow failures in a private file and clears', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'backoff-'));
    dirs.push(dir);
    const file = backoffFileIn(path.join(dir, 'spool'));
    expect(readBackoff(file)).toEqual({ failures: 0, retryAt: 0 });
    expect(recordSlowFailure(file, 1_000)).toEqual({ failures: 1, retryAt: 6_000 });
    expect(recordSlowFailure(file, 2_000)).toEqual({ failures: 2, retryAt: 12_000 });
    expect(readBackoff(file).failures).toBe(2);
    clearBackoff(file);
    expect(readBackoff(file)).toEqual({ failures: 0, retryAt: 0 });
  });
});
