/**
 * Our cost of a model call against MLflow's own, in the MLflow `init`
 * installs by default (3.17.2: `calculate_cost_by_model_and_token_usage`,
 * what its server computes on OTLP ingest for a span with a model and a
 * token usage but no cost): every model of our table, the ids as Claude
 * Code writes them, with and without cache reads and writes. (MLflow's
 * own Claude Code plugin prices with a table of its own, pricing.ts, in the
 * same convention as ours.)
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ANTHROPIC_PRICES } from '../../src/core/anthropic-prices.js';
import { costOf } from '../../src/core/cost.js';
import type { TokenUsage } from '../../src/core/trace-model.js';
import { defaultVenvBin } from '../helpers/venv.js';

const MLFLOW_COST_PY = `
import json, sys
from mlflow.tracing.utils import calculate_cost_by_model_and_token_usage
out = []
for case in json.loads(sys.stdin.read()):
    out.append(calculate_cost_by_model_and_token_usage(case["model"], case["usage"], "anthropic"))
print(json.dumps(out))
`;

const usages: TokenUsage[] = [
  { input_tokens: 1_200, output_tokens: 350, total_tokens: 1_550 },
  { input_tokens: 3, output_tokens: 800, total_tokens: 803, cache_read_input_tokens: 45_000, cache_creation_input_tokens: 2_500 },
  { input_tokens: 0, output_tokens: 12, total_tokens: 12, cache_read_input_tokens: 20_000 },
];

describe('cost: ours against MLflow 3.17.2', () => {
  it('the same input, output and total cost for every model and usage, within a millionth of a cent', async () => {
    const models = Object.keys(ANTHROPIC_PRICES).flatMap((m) => [m, ...(/-\d{8}$/.test(m) ? [] : [`${m}[1m]`])]);
    const cases = models.flatMap((model) => usages.map((usage) => ({ model, usage })));
    // MLflow knows `[1m]` ids only without the suffix. Its Python pricing takes input_tokens as every prompt
    // token, the cached ones included (OpenAI's convention), where Anthropic's leaves them out: converted.
    const asked = cases.map((c) => ({
      model: c.model.replace(/\[1m\]$/, ''),
      usage: {
        ...c.usage,
        input_tokens: c.usage.input_tokens + (c.usage.cache_read_input_tokens ?? 0) + (c.usage.cache_creation_input_tokens ?? 0),
      },
    }));
    const { stdout } = await execa(defaultVenvBin('python'), ['-c', MLFLOW_COST_PY], {
      input: JSON.stringify(asked),
      env: { MLFLOW_DISABLE_TELEMETRY: 'true' },
    });
    const theirs = JSON.parse(stdout.trim().split('\n').at(-1)!) as Array<{
      input_cost: number;
      output_cost: number;
      total_cost: number;
    } | null>;
    const differences: string[] = [];
    cases.forEach((c, i) => {
      const ours = costOf(c.model, c.usage);
      const mlflow = theirs[i];
      if (!mlflow) {
        differences.push(`${c.model}: MLflow has no price`);
        return;
      }
      for (const key of ['input_cost', 'output_cost', 'total_cost'] as const) {
        if (!ours || Math.abs(ours[key] - mlflow[key]) > 1e-8)
          differences.push(`${c.model} ${JSON.stringify(c.usage)} ${key}: ours ${ours?.[key]}, MLflow ${mlflow[key]}`);
      }
    });
    expect(differences).toEqual([]);
    expect(cases.length).toBeGreaterThan(60);
  }, 120_000);
});
