/**
 * At SessionEnd the hook waits, bounded, for the traces waiting at that
 * moment; it stops at once when the delivery process records a failure.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { awaitSessionDelivery, SESSION_END_WAIT_MS } from '../../src/hook/session-end.js';
import { updateDeliveryRecord } from '../../src/services/delivery/state.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
let spool: string;
beforeEach(async () => {
  tmp = await makeTempDir();
  spool = path.join(tmp.path, 'spool');
  mkdirSync(spool, { recursive: true });
});
afterEach(async () => {
  await tmp.cleanup();
});

const spoolFile = (n: number): string => {
  const file = path.join(spool, `00000000000000${n}-${'a'.repeat(31)}${n}.trace.json`);
  writeFileSync(file, '{}');
  return file;
};

describe('awaitSessionDelivery', () => {
  it('returns at once, starting nothing, when nothing waits', async () => {
    let started = 0;
    expect(await awaitSessionDelivery(spool, () => (started += 1))).toEqual({ waitedMs: 0, waiting: 0, left: 0 });
    expect(started).toBe(0);
  });

  it('starts delivery and returns as soon as the waiting traces are delivered', async () => {
    const files = [spoolFile(1), spoolFile(2)];
    let started = 0;
    const wait = await awaitSessionDelivery(spool, () => {
      started += 1;
      setTimeout(() => files.forEach((f) => rmSync(f)), 150);
    });
    expect(started).toBe(1);
    expect(wait).toMatchObject({ waiting: 2, left: 0 });
    expect(wait.waitedMs).toBeGreaterThanOrEqual(100);
    expect(wait.waitedMs).toBeLessThan(SESSION_END_WAIT_MS);
  });

  it('stops waiting when the delivery process records a failure', async () => {
    spoolFile(3);
    const wait = await awaitSessionDelivery(spool, () =>
      setTimeout(() => updateDeliveryRecord(spool, { lastFailureAt: Date.now(), lastError: 'ECONNREFUSED' }), 100),
    );
    expect(wait).toMatchObject({ waiting: 1, left: 1 });
    expect(wait.waitedMs).toBeLessThan(SESSION_END_WAIT_MS);
  });

  it('gives up at its bound, leaving the trace spooled', async () => {
    spoolFile(4);
    const wait = await awaitSessionDelivery(spool, () => undefined);
    expect(wait).toMatchObject({ waiting: 1, left: 1 });
    expect(wait.waitedMs).toBeGreaterThanOrEqual(SESSION_END_WAIT_MS);
  });
});
