#!/usr/bin/env node
/**
 * Fill an MLflow server with realistic Claude Code traces at known ages, for
 * the cleanup benchmark (P3).
 *
 * Each trace is the one our hook builds from a real Claude Code 2.1.197
 * transcript (test/fixtures/transcripts/multi-tool: an AGENT root, two `llm`
 * spans and two `tool_Read` spans, with their inputs, outputs and token
 * usage), re-keyed to a fresh trace id and shifted in time. Traces go through
 * MLflow's own OTLP ingest (`POST /v1/traces`, the path our hook uses), many
 * traces per request, so the server writes every row itself: nothing is
 * inserted behind MLflow's back.
 *
 * Ages: `--old-share` of the traces (default half) are spread between
 * cutoff+1 day and cutoff+335 days old; the rest between 1 hour and
 * cutoff-1 day old, so a `--older-than <cutoff-days>d` cleanup deletes
 * exactly the old share whenever it runs within a day.
 *
 * Usage (needs `npm run build`):
 *   node bench/gen-traces.mjs --url http://127.0.0.1:5000 --experiment bench [--traces 100000]
 *        [--old-share 0.5] [--cutoff-days 30] [--batch 200]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromDist, repoRoot } from './lib.mjs';

const DAY = 86_400_000;

/** @typedef {import('../src/core/trace-model.js').TraceModel} TraceModel */

/** The template trace: what our hook builds from the multi-tool fixture transcript. */
export async function templateTrace() {
  /** @type {typeof import('../src/core/transcript.js')} */
  const { traceFromRows } = await fromDist('core/transcript.js');
  const rows = readFileSync(path.join(repoRoot, 'test', 'fixtures', 'transcripts', 'multi-tool', 'transcript.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  const trace = traceFromRows(rows, { sessionId: 'bench-session', cwd: '/home/bench/project', user: 'bench' });
  if (!trace) throw new Error('the fixture transcript gave no trace');
  return trace;
}

/**
 * A copy of `template` with a new trace id and span ids, starting at startMs.
 * @param {TraceModel} template
 * @param {number} startMs
 * @param {number} n
 * @returns {TraceModel}
 */
export function shiftedTrace(template, startMs, n) {
  const delta = startMs - template.startMs;
  const ids = new Map(template.spans.map((s) => [s.spanId, randomBytes(8).toString('hex')]));
  return {
    ...template,
    traceId: randomBytes(16).toString('hex'),
    startMs: template.startMs + delta,
    endMs: template.endMs + delta,
    metadata: { ...template.metadata, 'mlflow.trace.session': `bench-session-${Math.floor(n / 10)}` },
    spans: template.spans.map((s) => ({
      ...s,
      spanId: /** @type {string} */ (ids.get(s.spanId)),
      parentSpanId: s.parentSpanId ? ids.get(s.parentSpanId) : undefined,
      startMs: s.startMs + delta,
      endMs: s.endMs + delta,
    })),
  };
}

/**
 * Start times (epoch ms) for `count` traces, `oldShare` of them older than `cutoffDays`.
 * @param {number} count
 * @param {{ oldShare?: number, cutoffDays?: number, now?: number }} [options]
 */
export function startTimes(count, { oldShare = 0.5, cutoffDays = 30, now = Date.now() } = {}) {
  const old = Math.round(count * oldShare);
  const out = [];
  for (let i = 0; i < count; i++) {
    if (i < old) {
      const span = 335 * DAY;
      out.push(now - (cutoffDays + 1) * DAY - Math.floor((span * i) / Math.max(1, old)));
    } else {
      const span = (cutoffDays - 1) * DAY - 3_600_000;
      const j = i - old;
      out.push(now - 3_600_000 - Math.floor((span * j) / Math.max(1, count - old)));
    }
  }
  return out;
}

/**
 * @param {string} url
 * @param {string} name
 * @returns {Promise<string>}
 */
export async function ensureExperiment(url, name) {
  const get = await fetch(`${url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
  if (get.ok) return /** @type {any} */ (await get.json()).experiment.experiment_id;
  const res = await fetch(`${url}/api/2.0/mlflow/experiments/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!res.ok) throw new Error(`create experiment ${name}: HTTP ${res.status} ${await res.text()}`);
  return /** @type {any} */ (await res.json()).experiment_id;
}

/**
 * Send `times.length` traces to the server's OTLP ingest, `batch` traces per
 * request. Returns the MLflow trace ids with their start times.
 * @param {{ url: string, experimentId: string, times: number[], batch?: number, onProgress?: (sent: number) => void }} options
 */
export async function generateTraces({ url, experimentId, times, batch = 200, onProgress }) {
  /** @type {typeof import('../src/adapters/otlp.js')} */
  const { toReadableSpans } = await fromDist('adapters/otlp.js');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const { ExportResultCode } = await import('@opentelemetry/core');
  const template = await templateTrace();
  const exporter = new OTLPTraceExporter({
    url: `${url}/v1/traces`,
    headers: { 'x-mlflow-experiment-id': experimentId },
    timeoutMillis: 120_000,
  });
  const made = [];
  try {
    for (let i = 0; i < times.length; i += batch) {
      /** @type {import('@opentelemetry/sdk-trace-base').ReadableSpan[]} */
      const spans = [];
      for (let j = i; j < Math.min(times.length, i + batch); j++) {
        const trace = shiftedTrace(template, times[j], j);
        spans.push(...toReadableSpans(trace));
        made.push({ traceId: `tr-${trace.traceId}`, startMs: trace.startMs });
      }
      await /** @type {Promise<void>} */ (
        new Promise((resolve, reject) =>
          exporter.export(spans, (r) =>
            r.code === ExportResultCode.SUCCESS ? resolve() : reject(r.error ?? new Error('OTLP export failed')),
          ),
        )
      );
      onProgress?.(Math.min(times.length, i + batch));
    }
  } finally {
    await exporter.shutdown().catch(() => undefined);
  }
  return made;
}

/**
 * @template {string | undefined} [F=undefined]
 * @param {string} name
 * @param {F} [fallback]
 * @returns {string | F}
 */
function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? /** @type {F} */ (fallback) : process.argv[i + 1];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = arg('--url');
  if (!url) throw new Error('--url is required');
  const count = Number(arg('--traces', '100000'));
  const experimentId = await ensureExperiment(url, arg('--experiment', 'bench'));
  const times = startTimes(count, { oldShare: Number(arg('--old-share', '0.5')), cutoffDays: Number(arg('--cutoff-days', '30')) });
  const started = Date.now();
  await generateTraces({
    url,
    experimentId,
    times,
    batch: Number(arg('--batch', '200')),
    onProgress: (n) => process.stderr.write(`\r${n}/${count} traces`),
  });
  process.stderr.write(`\n${count} traces into experiment ${experimentId} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
