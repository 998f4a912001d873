import { describe, expect, it } from 'vitest';
import { ANTHROPIC_PRICES, PRICES_AS_OF } from '../../src/core/anthropic-prices.js';
import { costOf, priceOf, withTraceCost } from '../../src/core/cost.js';

const usage = (input: number, output: number, cacheRead?: number, cacheWrite?: number) => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output,
  ...(cacheRead !== undefined ? { cache_read_input_tokens: cacheRead } : {}),
  ...(cacheWrite !== undefined ? { cache_creation_input_tokens: cacheWrite } : {}),
});

describe('costOf', () => {
  it('prices input, output, cache reads and cache writes each at its own rate (Anthropic: input_tokens leaves the cache out)', () => {
    const price = ANTHROPIC_PRICES['claude-sonnet-4-5']!;
    const cost = costOf('claude-sonnet-4-5', usage(1_000, 500, 10_000, 2_000))!;
    const input = (1_000 * price.input + 10_000 * price.cacheRead! + 2_000 * price.cacheWrite!) / 1e6;
    expect(cost.input_cost).toBeCloseTo(input, 12);
    expect(cost.output_cost).toBeCloseTo((500 * price.output) / 1e6, 12);
    expect(cost.total_cost).toBeCloseTo(cost.input_cost + cost.output_cost, 12);
  });

  it('knows a model by its id as Claude Code writes it: with a date, or a [1m] context suffix', () => {
    expect(priceOf('claude-sonnet-4-5-20250929')).toEqual(ANTHROPIC_PRICES['claude-sonnet-4-5-20250929']);
    expect(priceOf('claude-opus-4-8[1m]')).toEqual(ANTHROPIC_PRICES['claude-opus-4-8']);
    expect(priceOf('claude-haiku-4-5-20991231')).toEqual(ANTHROPIC_PRICES['claude-haiku-4-5']);
  });

  it('an unknown model, the stand-in for a refused call, or nothing used: no cost rather than a guess', () => {
    expect(costOf('claude-opus-99', usage(10, 10))).toBeUndefined();
    expect(costOf('<synthetic>', usage(10, 10))).toBeUndefined();
    expect(costOf('claude-sonnet-4-5', usage(0, 0))).toBeUndefined();
    expect(costOf('claude-sonnet-4-5', undefined)).toBeUndefined();
  });

  it('the table is dated', () => {
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe('withTraceCost', () => {
  it('sums the llm spans, nested ones included, into mlflow.trace.cost', () => {
    const span = (spanType: string, cost?: number) => ({
      spanType,
      attributes: cost === undefined ? {} : { 'mlflow.llm.cost': { input_cost: cost, output_cost: cost * 2, total_cost: cost * 3 } },
    });
    const trace = withTraceCost({
      spans: [span('AGENT'), span('LLM', 1), span('TOOL'), span('AGENT'), span('LLM', 2), span('LLM')],
      metadata: { a: 'b' } as Record<string, string>,
    });
    expect(JSON.parse(trace.metadata['mlflow.trace.cost']!)).toEqual({ input_cost: 3, output_cost: 6, total_cost: 9 });
    expect(withTraceCost({ spans: [span('LLM')], metadata: {} }).metadata).toEqual({});
  });
});
