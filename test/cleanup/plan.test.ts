/** The plan against the reference rule, on generated experiments (ties, keep-last, cut-off edges). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TraceSummary } from '../../src/services/trace-backend.js';
import { buildPlan, idBatches, keepLastBoundary, planExperiment, selectByRule, type ExperimentSnapshot } from '../../src/cleanup/plan.js';

/** What gather.ts asks MLflow, answered from the full list (newest first, ties in list order). */
function snapshotOf(all: TraceSummary[], cutoffMs: number, keepLast?: number): ExperimentSnapshot {
  const newestFirst = [...all].sort((a, b) => b.timestampMs - a.timestampMs);
  const older = newestFirst.filter((t) => t.timestampMs < cutoffMs);
  const snap: ExperimentSnapshot = {
    id: '1',
    name: 'e',
    total: all.length,
    older: { count: older.length, oldestMs: older.at(-1)?.timestampMs, newestMs: older[0]?.timestampMs },
  };
  if (older.length === 0 || keepLast === undefined || all.length <= keepLast) return snap;
  snap.newest = newestFirst.slice(0, keepLast);
  const boundary = keepLastBoundary(snap.newest, keepLast, cutoffMs);
  if (boundary === undefined) return snap;
  const below = newestFirst.filter((t) => t.timestampMs < boundary);
  snap.belowBoundary = { count: below.length, newestMs: below[0]?.timestampMs };
  snap.atBoundary = newestFirst.filter((t) => t.timestampMs === boundary);
  return snap;
}

/** What the plan's batches would delete from the full list. */
function applyPlan(all: TraceSummary[], cutoffMs: number, keepLast?: number): { deleted: Set<string>; planned: number } {
  const plan = planExperiment(snapshotOf(all, cutoffMs, keepLast), { cutoffMs, keepLast });
  const deleted = new Set<string>();
  if (plan.byTime) for (const t of all) if (t.timestampMs <= plan.byTime.maxTimestampMs) deleted.add(t.id);
  for (const id of plan.byIds) deleted.add(id);
  if (plan.byTime) expect(all.filter((t) => t.timestampMs <= plan.byTime!.maxTimestampMs)).toHaveLength(plan.byTime.count);
  return { deleted, planned: plan.toDelete };
}

const traces = fc
  .array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 })
  .map((times) => times.map((t, i) => ({ id: `t${i}`, timestampMs: t * 1000 })));

describe('planExperiment', () => {
  it('deletes exactly what the rule selects, and counts it right', () => {
    fc.assert(
      fc.property(
        traces,
        fc.integer({ min: 1, max: 41 }),
        fc.option(fc.integer({ min: 1, max: 70 }), { nil: undefined }),
        (all, cut, keepLast) => {
          const cutoffMs = cut * 1000;
          const newestFirst = [...all].sort((a, b) => b.timestampMs - a.timestampMs);
          const { deleted, planned } = applyPlan(all, cutoffMs, keepLast);
          const expected = selectByRule(newestFirst, cutoffMs, keepLast);
          expect(planned).toBe(expected.length);
          expect(deleted.size).toBe(expected.length);
          // The same traces (ties at the boundary resolved in MLflow's listing order, here the sort's).
          expect([...deleted].sort()).toEqual([...expected].sort());
          // Never a trace at or after the cut-off; never one of the newest keepLast.
          for (const id of deleted) expect(all.find((t) => t.id === id)!.timestampMs).toBeLessThan(cutoffMs);
          if (keepLast !== undefined) expect(all.length - deleted.size).toBeGreaterThanOrEqual(Math.min(keepLast, all.length));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reports the date range and what --keep-last kept', () => {
    const all = [50, 40, 30, 20, 10].map((t, i) => ({ id: `t${i}`, timestampMs: t }));
    const plan = planExperiment(snapshotOf(all, 45, 3), { cutoffMs: 45, keepLast: 3, bytesPerTrace: 100 });
    expect(plan).toMatchObject({ total: 5, older: 4, toDelete: 2, keptByKeepLast: 2, oldestMs: 10, newestMs: 20, estimatedBytes: 200 });
    expect(plan.byTime).toEqual({ maxTimestampMs: 29, count: 2 });
    expect(plan.byIds).toEqual([]);
    const free = planExperiment(snapshotOf(all, 45), { cutoffMs: 45 });
    expect(free).toMatchObject({ toDelete: 4, oldestMs: 10, newestMs: 40, byTime: { maxTimestampMs: 44, count: 4 } });
    expect(free.estimatedBytes).toBeUndefined();
  });

  it('uses ids for a tie at the keep-last boundary', () => {
    const all = [
      { id: 'new', timestampMs: 100 },
      { id: 'a', timestampMs: 30 },
      { id: 'b', timestampMs: 30 },
      { id: 'old', timestampMs: 10 },
    ];
    const plan = planExperiment(snapshotOf(all, 50, 2), { cutoffMs: 50, keepLast: 2 });
    expect(plan.toDelete).toBe(2);
    expect(plan.byTime).toEqual({ maxTimestampMs: 29, count: 1 });
    expect(plan.byIds).toEqual(['b']);
  });

  it('sums experiments', () => {
    const plan = buildPlan(
      [
        { id: '1', name: 'a', total: 3, older: { count: 2, oldestMs: 1, newestMs: 2 } },
        { id: '2', name: 'b', total: 1, older: { count: 0 } },
      ],
      { cutoffMs: 10, bytesPerTrace: 1000 },
    );
    expect(plan.toDelete).toBe(2);
    expect(plan.estimatedBytes).toBe(2000);
    expect(plan.experiments[1]!.toDelete).toBe(0);
  });

  it('batches ids by at most the given size', () => {
    expect(idBatches(['a', 'b', 'c', 'd', 'e'], 2)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(idBatches([], 100)).toEqual([]);
  });
});
