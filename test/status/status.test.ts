/**
 * `status` on a real setup: traces delivered by the real hook runtime on
 * transcripts dated over the last weeks, counted through MLflow's REST
 * search API.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../src/status/run-status.js';
import type { StatusData } from '../../src/status/collect.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { initSetup, syntheticSession, type Setup } from '../doctor/setup.js';
import { readFileSync } from 'node:fs';

let s: Setup;

beforeAll(async () => {
  s = await initSetup();
}, 240_000);

afterAll(async () => {
  await s?.stop();
});

async function status(json: boolean): Promise<{ lines: string[]; data: StatusData; exitCode: number }> {
  const lines: string[] = [];
  const { data, exitCode } = await runStatus({ dataRoot: s.data, project: s.project, home: s.home, env: s.env, managedSettingsFile: null, json, print: (l) => lines.push(l) });
  return { lines, data, exitCode };
}

describe('status', () => {
  it('counts traces and tokens per day, and draws them', async () => {
    const env = { ...s.env, ...JSON.parse(readFileSync(s.projectSettings, 'utf8')).env };
    const script = path.join(s.data, 'runtime', 'claude-mlflow-hook.mjs');
    const day = 86400_000;
    const now = Date.now();
    const sessions: Array<[string, number, number]> = [
      ['today-1', now - 60_000, 100],
      ['today-2', now - 30_000, 50],
      ['three-days', now - 3 * day, 1000],
      ['twenty-days', now - 20 * day, 7],
      ['forty-days', now - 40 * day, 3],
    ];
    for (const [id, at, out] of sessions) {
      const hook = await runHookProcess(syntheticSession(s.tmp.path, id, new Date(at), { input_tokens: 10, output_tokens: out }), env, script);
      expect(hook.exitCode).toBe(0);
    }
    // A turn exactly at local midnight counts as today: keep the test away from it.
    const today = new Date(now - 60_000).toDateString() === new Date().toDateString() ? 2 : undefined;

    const { data, exitCode } = await status(true);
    expect(exitCode).toBe(0);
    expect(data.server).toMatchObject({ healthy: true, local: true, state: 'running', version: '3.12.0' });
    expect(data.experiment.name).toBe('my-app');
    expect(data.experiment.id).toMatch(/^\d+$/);
    expect(data.tracing.on).toBe(true);
    expect(data.tracing.scopes.find((x) => x.scope === 'project')).toMatchObject({ hook: true, enabled: 'true', readable: true });
    if (today !== undefined) expect(data.traces?.today).toBe(today);
    expect(data.traces).toMatchObject({ last7Days: 3, last30Days: 4, truncated: false });
    expect(data.tokens?.last7Days).toBe(110 + 60 + 1010);
    expect(data.daily).toHaveLength(14);
    expect(data.daily!.reduce((n, d) => n + d.traces, 0)).toBe(3);
    expect(data.daily!.at(-1)!.tokens).toBe(110 + 60);
    expect(data.database.bytes).toBeGreaterThan(0);
    expect(data.spool.waiting).toBe(0);

    const human = await status(false);
    const text = human.lines.join('\n');
    expect(text).toContain('Tracing    on');
    expect(text).toContain(`Traces     today ${data.traces!.today} · 7 days 3 · 30 days 4`);
    expect(text).toMatch(/Traces per day \(14 days\)\s+Tokens per day \(14 days\)/);
    expect(text).toContain('█');
    expect(human.lines.length).toBeLessThanOrEqual(24);
  });

  it('with the server stopped: says so, still shows the database, the spool and the settings', async () => {
    await s.cli(['server', 'stop']);
    const { data, exitCode, lines } = await status(false);
    expect(exitCode).toBe(0);
    expect(data.server.healthy).toBe(false);
    expect(data.traces).toBeNull();
    expect(data.database.bytes).toBeGreaterThan(0);
    expect(lines.join('\n')).toContain('not answering /health');
  });
});
