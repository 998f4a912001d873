/**
 * What a model call cost, from its model and token usage, priced with the
 * bundled table (MLflow's own model catalog; see anthropic-prices.ts). Pure,
 * offline. Anthropic's `input_tokens` leaves out the cached tokens, so cache
 * reads and writes are priced on top of it, each at its own rate.
 */
import { ANTHROPIC_PRICES, type ModelPrice } from './anthropic-prices.js';
import type { TokenUsage } from './trace-model.js';

/** The span attribute and the trace metadata key MLflow reads costs from. */
export const LLM_COST_ATTRIBUTE = 'mlflow.llm.cost';
export const TRACE_COST_METADATA = 'mlflow.trace.cost';

export interface LlmCost {
  input_cost: number;
  output_cost: number;
  total_cost: number;
}

const PER_TOKEN = 1e-6;

/**
 * The price of a model id as Claude Code writes it: exact, without a
 * `[1m]`-style suffix, or without its date (`-20250929`). Undefined for a
 * model the table does not know: no cost is better than a guessed one.
 */
export function priceOf(model: string): ModelPrice | undefined {
  const bare = model.replace(/\[[^\]]*\]$/, '');
  return ANTHROPIC_PRICES[bare] ?? ANTHROPIC_PRICES[bare.replace(/-\d{8}$/, '')];
}

/** The cost of one call, or undefined when the model is unknown or nothing was used. */
export function costOf(model: string, usage: TokenUsage | undefined): LlmCost | undefined {
  const price = priceOf(model);
  if (!price || !usage) return undefined;
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  if (usage.input_tokens + usage.output_tokens + cacheRead + cacheWrite === 0) return undefined;
  const input =
    usage.input_tokens * price.input + cacheRead * (price.cacheRead ?? price.input) + cacheWrite * (price.cacheWrite ?? price.input);
  const inputCost = input * PER_TOKEN;
  const outputCost = usage.output_tokens * price.output * PER_TOKEN;
  return { input_cost: inputCost, output_cost: outputCost, total_cost: inputCost + outputCost };
}

export function addCost(a: LlmCost | undefined, b: LlmCost | undefined): LlmCost | undefined {
  if (!a) return b;
  if (!b) return a;
  return { input_cost: a.input_cost + b.input_cost, output_cost: a.output_cost + b.output_cost, total_cost: a.total_cost + b.total_cost };
}

/** The trace with `mlflow.trace.cost`: the sum of its llm spans' costs (nested subagents' included). */
export function withTraceCost<
  T extends { spans: Array<{ spanType: string; attributes: Record<string, unknown> }>; metadata: Record<string, string> },
>(trace: T): T {
  let total: LlmCost | undefined;
  for (const span of trace.spans) {
    if (span.spanType === 'LLM') total = addCost(total, span.attributes[LLM_COST_ATTRIBUTE] as LlmCost | undefined);
  }
  if (!total) return trace;
  return { ...trace, metadata: { ...trace.metadata, [TRACE_COST_METADATA]: JSON.stringify(total) } };
}
