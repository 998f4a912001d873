/**
 * Warming a freshly started MLflow server's trace path: it ends warm, and it
 * writes nothing (no experiment, no trace).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmTracePath } from '../../src/adapters/server-warmup.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';

let server: MlflowServer;
beforeAll(async () => {
  server = await startMlflowServer();
});
afterAll(async () => {
  await server?.stop();
});

async function post(path: string, body: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe('warmTracePath', () => {
  it('sends trace requests until a round is fast, and leaves the store as it was', async () => {
    const result = await warmTracePath(server.url, {});
    console.log(
      `warm-up of a fresh server: ${result.rounds} round(s), slowest request ${Math.round(result.firstRoundMs)} ms first, ${Math.round(result.lastRoundMs)} ms last`,
    );
    expect(result.warm).toBe(true);
    expect(result.lastRoundMs).toBeLessThan(150);
    const experiments = (await post('/api/2.0/mlflow/experiments/search', { max_results: 100 })).experiments;
    expect(experiments.map((e: { name: string }) => e.name)).toEqual(['Default']);
    const traces = await post('/api/3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: '0' } }],
      max_results: 10,
    });
    expect(traces.traces ?? []).toEqual([]);
  });

  it('reports a server that does not answer as not warm, within its bounds', async () => {
    const result = await warmTracePath('http://127.0.0.1:9', {}, { maxRounds: 2, timeoutMs: 500 });
    expect(result).toMatchObject({ rounds: 2, warm: false });
  });
});
