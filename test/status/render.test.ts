/** The status screen's spool line: what waits, since when, the delivery process, the last delivery. */
import { describe, expect, it } from 'vitest';
import type { StatusData } from '../../src/status/collect.js';
import { renderStatus } from '../../src/status/render.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const iso = (agoMs: number): string => new Date(NOW - agoMs).toISOString();

function data(spool: StatusData['spool']): StatusData {
  return {
    schemaVersion: 1,
    generatedAt: iso(0),
    dataDir: '/data',
    project: '/project',
    user: null,
    tracing: { on: true, reason: 'project settings', scopes: [] },
    server: {
      url: 'http://127.0.0.1:5000',
      local: true,
      healthy: true,
      version: '3.17.2',
      manager: 'background',
      state: 'running',
      pid: 1,
    },
    experiment: { name: 'app', id: '1' },
    traces: null,
    tokens: null,
    daily: null,
    database: { file: '/data/mlflow.db', bytes: 1000 },
    spool,
    errors: [],
  } as unknown as StatusData;
}

const spoolLine = (spool: StatusData['spool']): string => renderStatus(data(spool)).find((l) => l.startsWith('Spool'))!;

describe('status: the spool line', () => {
  it('empty, with the last delivery', () => {
    expect(spoolLine({ waiting: 0, rejected: 0, oldestSpooledAt: null, deliveryPid: null, lastDeliveryAt: iso(120_000) })).toBe(
      'Spool      empty · last delivery 2 min ago',
    );
  });

  it('traces in flight, with the delivery process at work', () => {
    expect(spoolLine({ waiting: 2, rejected: 0, oldestSpooledAt: iso(3_000), deliveryPid: 4242, lastDeliveryAt: iso(60_000) })).toBe(
      'Spool      2 traces waiting, the oldest for 3 s · delivering (PID 4242) · last delivery 60 s ago',
    );
  });

  it('traces waiting with nothing at work on them: says to flush', () => {
    expect(spoolLine({ waiting: 1, rejected: 1, oldestSpooledAt: iso(7_200_000), deliveryPid: null, lastDeliveryAt: null })).toBe(
      'Spool      1 trace waiting, the oldest for 2 h (claude-mlflow flush) · 1 refused',
    );
  });
});

describe('status: cost', () => {
  it('a cost line, a cost chart and the costliest sessions, in dollars', () => {
    const daily = Array.from({ length: 14 }, (_, i) => ({
      date: `2026-11-${String(17 + i).padStart(2, '0')}`,
      traces: 1,
      tokens: 10,
      cost: i === 13 ? 1.5 : 0.25,
    }));
    const lines = renderStatus({
      ...data({ waiting: 0, rejected: 0, oldestSpooledAt: null, deliveryPid: null, lastDeliveryAt: null }),
      traces: { today: 1, last7Days: 7, last30Days: 14, truncated: false },
      tokens: { today: 10, last7Days: 70, last30Days: 140 },
      cost: { today: 1.5, last7Days: 3, last30Days: 4.75 },
      daily,
      topSessions: [{ session: 's-1', cost: 123.4, traces: 3, lastAt: iso(60_000) }],
    } as StatusData);
    expect(lines).toContain('Cost       today $1.50 · 7 days $3.00 · 30 days $4.75 (list prices of the models used)');
    expect(lines.some((l) => l.startsWith('Cost per day (14 days)'))).toBe(true);
    expect(lines.some((l) => l.startsWith('$1.50 ┤'))).toBe(true);
    expect(lines).toContain('Costliest sessions (30 days)');
    expect(lines.some((l) => /^ +\$123 {2}s-1 {2}3 traces, last 2026-11-30 11:59$/.test(l))).toBe(true);
  });
});
