/**
 * `status` on a real setup: traces delivered by the real hook runtime on
 * transcripts dated over the last weeks, counted through MLflow's REST
 * search API.
 */
import { waitForSpoolEmpty } from '../helpers/delivery.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../src/status/run-status.js';
import type { StatusData } from '../../src/status/collect.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { initSetup, syntheticSession, type Setup } from '../doctor/setup.js';
import { readFileSync } from 'node:fs';
import { costOf } from '../../src/core/cost.js';

let s: Setup;

beforeAll(async () => {
  s = await initSetup();
}, 240_000);

afterAll(async () => {
  await s?.stop();
});

async function status(json: boolean, user?: string): Promise<{ lines: string[]; data: StatusData; exitCode: number }> {
  const lines: string[] = [];
  const { data, exitCode } = await runStatus({
    dataRoot: s.data,
    project: s.project,
    home: s.home,
    env: s.env,
    managedSettingsFile: null,
    json,
    print: (l) => lines.push(l),
    ...(user === undefined ? {} : { user }),
  });
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
      const hook = await runHookProcess(
        syntheticSession(s.tmp.path, id, new Date(at), { input_tokens: 10, output_tokens: out }),
        env,
        script,
      );
      expect(hook.exitCode).toBe(0);
    }
    await waitForSpoolEmpty(s.data);
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
    expect(data.spool).toMatchObject({ waiting: 0, oldestSpooledAt: null });
    expect(Date.parse(data.spool.lastDeliveryAt!)).toBeGreaterThan(now - 120_000);

    const human = await status(false);
    const text = human.lines.join('\n');
    expect(text).toContain('Tracing    on');
    expect(text).toContain(`Traces     today ${data.traces!.today} · 7 days 3 · 30 days 4`);
    expect(text).toMatch(/Traces per day \(14 days\)\s+Tokens per day \(14 days\)/);
    expect(text).toContain('█');
    expect(human.lines.length).toBeLessThanOrEqual(24);
  });

  it('--user: counts only the traces whose mlflow.trace.user is that user (MLflow search filter on request metadata)', async () => {
    const env = { ...s.env, ...JSON.parse(readFileSync(s.projectSettings, 'utf8')).env };
    const script = path.join(s.data, 'runtime', 'claude-mlflow-hook.mjs');
    const now = Date.now();
    const sessions: Array<[string, string, number, number]> = [
      ['alice', 'alice-1', now - 50_000, 20],
      ['alice', 'alice-2', now - 2 * 86400_000, 40],
      ['bob', 'bob-1', now - 40_000, 300],
      ["o'brien", 'obrien-1', now - 45_000, 1],
    ];
    for (const [user, id, at, out] of sessions) {
      const hook = await runHookProcess(
        syntheticSession(s.tmp.path, id, new Date(at), { input_tokens: 10, output_tokens: out }),
        { ...env, USER: user },
        script,
      );
      expect(hook.exitCode).toBe(0);
    }
    await waitForSpoolEmpty(s.data);
    const all = (await status(true)).data;
    expect(all.user).toBeNull();
    expect(all.traces).toMatchObject({ last7Days: 3 + 4, last30Days: 4 + 4 });

    const alice = await status(true, 'alice');
    expect(alice.data.user).toBe('alice');
    expect(alice.data.traces).toMatchObject({ last7Days: 2, last30Days: 2, truncated: false });
    expect(alice.data.tokens).toMatchObject({ last7Days: 30 + 50, last30Days: 30 + 50 });
    expect(alice.data.daily!.reduce((n, d) => n + d.traces, 0)).toBe(2);
    expect(alice.data.errors).toEqual([]);
    expect((await status(true, 'bob')).data.tokens?.last30Days).toBe(310);
    // A name with a single quote: MLflow's filter takes it in double quotes.
    expect((await status(true, "o'brien")).data.traces).toMatchObject({ last30Days: 1 });
    expect((await status(true, 'nobody')).data.traces).toMatchObject({ today: 0, last7Days: 0, last30Days: 0 });

    const human = (await status(false, 'alice')).lines.join('\n');
    expect(human).toContain('User       alice (traces, tokens and charts count only the traces of this user)');
    expect(human).toContain('7 days 2 · 30 days 2');

    // The built CLI: the option, the JSON, and a bad value (exit 2).
    const cli = await s.cli(['status', '--user', 'alice', '--json']);
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ user: 'alice', traces: { last7Days: 2, last30Days: 2 } });
    const empty = await s.cli(['status', '--user', '']);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('--user needs a user name');
  });

  it('cost: per day and by session, from the cost the hook puts on each trace', async () => {
    const env = { ...s.env, ...JSON.parse(readFileSync(s.projectSettings, 'utf8')).env };
    const script = path.join(s.data, 'runtime', 'claude-mlflow-hook.mjs');
    const now = Date.now();
    const priced: Array<[string, number, Record<string, number>]> = [
      ['costly', now - 70_000, { input_tokens: 100_000, output_tokens: 20_000, cache_read_input_tokens: 500_000 }],
      ['cheap', now - 2 * 86400_000, { input_tokens: 1_000, output_tokens: 100 }],
    ];
    for (const [id, at, usage] of priced) {
      const hook = await runHookProcess(syntheticSession(s.tmp.path, id, new Date(at), usage, 'claude-sonnet-4-5'), env, script);
      expect(hook.exitCode).toBe(0);
    }
    await waitForSpoolEmpty(s.data);
    const expected = priced.map(
      ([, , u]) =>
        costOf('claude-sonnet-4-5', {
          input_tokens: u.input_tokens!,
          output_tokens: u.output_tokens!,
          total_tokens: 0,
          ...(u.cache_read_input_tokens ? { cache_read_input_tokens: u.cache_read_input_tokens } : {}),
        })!.total_cost,
    );
    const { data } = await status(true);
    expect(data.cost!.last30Days).toBeCloseTo(expected[0]! + expected[1]!, 9);
    expect(data.cost!.last7Days).toBeCloseTo(expected[0]! + expected[1]!, 9);
    expect(data.daily!.reduce((n, d) => n + d.cost, 0)).toBeCloseTo(expected[0]! + expected[1]!, 9);
    expect(data.topSessions!.map((x) => x.session)).toEqual(['costly', 'cheap']);
    expect(data.topSessions![0]!.cost).toBeCloseTo(expected[0]!, 9);
    const text = (await status(false)).lines.join('\n');
    expect(text).toMatch(/Cost {7}today \$\d+\.\d\d · 7 days \$\d+\.\d\d · 30 days \$\d+\.\d\d/);
    expect(text).toContain('Cost per day (14 days)');
    expect(text).toMatch(/Costliest sessions \(30 days\)\n\s+\$\d+\.\d\d {2}costly {2}1 trace/);
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
