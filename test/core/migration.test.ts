import { describe, expect, it } from 'vitest';
import {
  describeSource,
  intentDigest,
  missingOnServer,
  planForTarget,
  summarizeSource,
  targetRefusal,
  type InspectEvent,
} from '../../src/core/migration.js';

const WHERE = 'PostgreSQL database "mlflow" on 127.0.0.1:5432 as user "me"';

function inspect(target: Partial<InspectEvent['target']>): InspectEvent {
  return {
    event: 'inspect',
    head: '7d34483879f0',
    source: { revision: '7d34483879f0', counts: {}, traces: {} },
    target: { revision: null, state: 'empty', counts: {}, ...target },
  };
}

describe('summarizeSource', () => {
  it('counts traces, spans, experiments and runs, and every row but the schema revision', () => {
    const s = summarizeSource({ alembic_version: 1, trace_info: 1000, spans: 5000, experiments: 3, runs: 1, metrics: 2, workspaces: 1 });
    expect(s).toEqual({ traces: 1000, spans: 5000, experiments: 3, runs: 1, rows: 6007 });
    expect(describeSource(s)).toBe('1,000 traces (5,000 spans) in 3 experiments, 1 run; 6,007 rows in all');
  });

  it('an empty database', () => {
    expect(describeSource(summarizeSource({ alembic_version: 1 }))).toBe('0 traces (0 spans) in 0 experiments, 0 runs; 0 rows in all');
  });
});

describe('targetRefusal', () => {
  it("writes into an empty database, one with only a new server's rows, and one not yet inspected", () => {
    expect(targetRefusal(inspect({ state: 'empty' }), WHERE)).toBeUndefined();
    expect(
      targetRefusal(
        inspect({ state: 'fresh', revision: '7d34483879f0', counts: { alembic_version: 1, experiments: 1, workspaces: 1 } }),
        WHERE,
      ),
    ).toBeUndefined();
    expect(targetRefusal(inspect({ state: 'unknown' }), WHERE)).toBeUndefined();
  });

  it('refuses MLflow data, naming the tables that hold it', () => {
    const why = targetRefusal(
      inspect({ state: 'has-data', revision: '7d34483879f0', counts: { alembic_version: 1, experiments: 4, trace_info: 12, spans: 0 } }),
      WHERE,
    );
    expect(why).toBe(
      `${WHERE} already holds MLflow data (experiments (4), trace_info (12)): migrate copies into an empty database only, so that nothing of either is mixed or lost. Use a new database`,
    );
  });

  it("refuses tables that are not MLflow's, at most five named", () => {
    const counts = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((t) => [t, null]));
    expect(targetRefusal(inspect({ state: 'other-tables', counts }), WHERE)).toBe(
      `${WHERE} already has tables that are not MLflow's (a, b, c, d, e, …): use a database of its own for MLflow`,
    );
  });
});

describe('missingOnServer', () => {
  it('lists experiments where the server finds fewer traces than were copied; more (new arrivals) is fine', () => {
    expect(missingOnServer({ '1': 1000, '2': 10 }, { '0': 0, '1': 1001, '2': 10 })).toEqual([]);
    expect(missingOnServer({ '1': 1000, '2': 10 }, { '1': 999 })).toEqual([
      { experimentId: '1', copied: 1000, found: 999 },
      { experimentId: '2', copied: 10, found: 0 },
    ]);
  });
});

describe('planForTarget: what a migrate does after an interrupted one', () => {
  const source = {
    revision: '7d34483879f0',
    counts: { alembic_version: 1, experiments: 2, trace_info: 10, spans: 50 },
    traces: { '1': 10 },
  };
  const withTarget = (counts: Record<string, number>): InspectEvent => ({
    ...inspect({ state: 'has-data', revision: '7d34483879f0', counts }),
    source,
  });

  it('copies into an empty or fresh target, whatever the intent says', () => {
    expect(planForTarget(inspect({ state: 'empty' }), false)).toBe('copy');
    expect(planForTarget(inspect({ state: 'fresh' }), true)).toBe('copy');
  });

  it('refuses data that no interrupted migrate to this target left', () => {
    expect(planForTarget(withTarget({ experiments: 2, trace_info: 10, spans: 50 }), false)).toBe('refuse');
    expect(planForTarget(inspect({ state: 'other-tables', counts: { users: null } }), true)).toBe('refuse');
  });

  it('only switches when its own copy is whole, even with traces delivered to it since', () => {
    expect(planForTarget(withTarget({ alembic_version: 1, experiments: 2, trace_info: 10, spans: 50 }), true)).toBe('switch-only');
    expect(planForTarget(withTarget({ alembic_version: 1, experiments: 2, trace_info: 12, spans: 60 }), true)).toBe('switch-only');
  });

  it('copies again over its own partial copy', () => {
    expect(planForTarget(withTarget({ alembic_version: 1, experiments: 2, trace_info: 9, spans: 50 }), true)).toBe('copy-again');
    expect(planForTarget(withTarget({ alembic_version: 1, experiments: 2 }), true)).toBe('copy-again');
  });
});

describe('intentDigest', () => {
  it('names a target the same with or without the driver, and never holds its password', () => {
    const uri = 'postgresql://me:S3cretPW@127.0.0.1:5432/mlflow';
    expect(intentDigest(uri)).toBe(intentDigest('postgresql+psycopg2://me:S3cretPW@127.0.0.1:5432/mlflow'));
    expect(intentDigest(uri)).not.toBe(intentDigest('postgresql://me:S3cretPW@127.0.0.1:5432/other'));
    expect(intentDigest(uri)).toMatch(/^[0-9a-f]{64}$/);
  });
});
