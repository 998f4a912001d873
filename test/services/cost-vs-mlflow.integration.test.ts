/**
 * Differential: for the same spans, our cost equals the figure a real MLflow
 * server computes when a span carries a model and token usage but no cost
 * (its OTLP ingest prices it from its own model catalog).
 *
 * Intended difference: MLflow's formula takes `input_tokens` to include the
 * cached tokens and subtracts them; Anthropic's usage (and so Claude Code's
 * transcript and MLflow's own Claude Code integration) reports them apart.
 * With cache reads or writes MLflow therefore prices fewer input tokens than
 * were billed; we price all of them. The second test pins that difference.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costOf, type LlmCost } from '../../src/core/cost.js';
import { traceFromRows, type TranscriptRow } from '../../src/core/transcript.js';
import { deliverTrace, deliveryContext } from '../../src/services/delivery/deliver.js';
import { searchTraces, startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';

let server: MlflowServer;
beforeAll(async () => {
  server = await startMlflowServer();
});
afterAll(async () => {
  await server?.stop();
});

/** A one-call turn of `model` with `usage`, its cost attribute taken off: the server prices it. */
function turnWithoutCost(session: string, model: string, usage: Record<string, number>) {
  const rows: TranscriptRow[] = [
    { type: 'user', uuid: `${session}-u`, timestamp: '2026-11-30T10:00:00.000Z', message: { role: 'user', content: 'hi' } },
    {
      type: 'assistant',
      uuid: `${session}-a`,
      timestamp: '2026-11-30T10:00:01.000Z',
      message: { id: `${session}-m`, role: 'assistant', model, content: [{ type: 'text', text: 'hello' }], usage },
    },
  ];
  const trace = traceFromRows(rows, { sessionId: session, user: 'dev' })!;
  const ours = trace.spans[1]!.attributes['mlflow.llm.cost'] as LlmCost;
  for (const span of trace.spans) delete span.attributes['mlflow.llm.cost'];
  return { trace, ours };
}

async function serverCost(experiment: string, trace: ReturnType<typeof turnWithoutCost>['trace']): Promise<LlmCost | undefined> {
  const ctx = deliveryContext();
  try {
    await deliverTrace(trace, { trackingUri: server.url, experiment: { name: experiment } }, Date.now() + 30_000, {}, ctx);
  } finally {
    ctx.agents.destroy();
  }
  const [found] = await searchTraces(server, experiment);
  const llm = found!.spans.find((s) => s.name === 'llm')!;
  const cost = llm.attributes['mlflow.llm.cost'];
  return typeof cost === 'string' ? JSON.parse(cost) : cost;
}

describe('our cost against the cost MLflow computes', () => {
  it.each([
    ['claude-sonnet-4-5', { input_tokens: 1_234, output_tokens: 567 }],
    ['claude-opus-4-1-20250805', { input_tokens: 20_000, output_tokens: 3_000 }],
    ['claude-haiku-4-5', { input_tokens: 99, output_tokens: 1 }],
  ])('%s without cache: equal within rounding', async (model, usage) => {
    const { trace, ours } = turnWithoutCost(`cost-${model}`, model, usage);
    const theirs = await serverCost(`cost-${model}`, trace);
    expect(theirs, 'the server computed no cost').toBeDefined();
    expect(ours.input_cost).toBeCloseTo(theirs!.input_cost, 10);
    expect(ours.output_cost).toBeCloseTo(theirs!.output_cost, 10);
    expect(ours.total_cost).toBeCloseTo(theirs!.total_cost, 10);
  });

  it('with cache reads and writes: MLflow prices fewer input tokens than Anthropic bills (the intended difference)', async () => {
    const usage = { input_tokens: 1_000, output_tokens: 100, cache_read_input_tokens: 400, cache_creation_input_tokens: 300 };
    const { trace, ours } = turnWithoutCost('cost-cache', 'claude-sonnet-4-5', usage);
    const theirs = (await serverCost('cost-cache', trace))!;
    expect(ours.output_cost).toBeCloseTo(theirs.output_cost, 10);
    // MLflow: (1000 - 400 - 300) regular input tokens; we: all 1000, as Anthropic reports them apart from the cache.
    const withoutCache = costOf('claude-sonnet-4-5', { ...usage, total_tokens: 1_100, input_tokens: 300 })!;
    expect(theirs.input_cost).toBeCloseTo(withoutCache.input_cost, 10);
    expect(ours.input_cost).toBeGreaterThan(theirs.input_cost);
  });
});
