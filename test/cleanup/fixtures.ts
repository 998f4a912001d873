/**
 * Traces at known ages, for the cleanup tests. Backdating happens here only:
 * each trace is the one our hook builds from a real Claude Code transcript
 * (the multi-tool fixture: an AGENT root, two `llm` and two `tool_Read`
 * spans), shifted to the start time we want, and sent through MLflow's own
 * OTLP ingest (`/v1/traces`, the path the hook uses). MLflow writes every
 * row itself; its trace timestamp is the root span's start, to the ms.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { execa } from 'execa';
import { toReadableSpans } from '../../src/adapters/otlp.js';
import { traceFromRows, type TranscriptRow } from '../../src/core/transcript.js';
import type { TraceModel } from '../../src/core/trace-model.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { venvBin } from '../helpers/venv.js';

export const DAY = 86_400_000;
export const SPANS_PER_TRACE = 5;

let template: TraceModel | undefined;

function templateTrace(): TraceModel {
  if (template) return template;
  const rows = readFileSync(path.join(fixturesDir, 'transcripts', 'multi-tool', 'transcript.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as TranscriptRow);
  template = traceFromRows(rows, { sessionId: 'cleanup-test', cwd: '/tmp/project', user: 'tester' });
  if (!template || template.spans.length !== SPANS_PER_TRACE) throw new Error('unexpected fixture trace');
  return template;
}

export function traceAt(startMs: number): TraceModel {
  const t = templateTrace();
  const delta = startMs - t.startMs;
  const ids = new Map(t.spans.map((s) => [s.spanId, randomBytes(8).toString('hex')]));
  return {
    ...t,
    traceId: randomBytes(16).toString('hex'),
    startMs,
    endMs: t.endMs + delta,
    spans: t.spans.map((s) => ({
      ...s,
      spanId: ids.get(s.spanId)!,
      parentSpanId: s.parentSpanId ? ids.get(s.parentSpanId) : undefined,
      startMs: s.startMs + delta,
      endMs: s.endMs + delta,
    })),
  };
}

export interface Seeded {
  id: string;
  startMs: number;
}

export async function createExperiment(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/api/2.0/mlflow/experiments/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!res.ok) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { experiment_id: string }).experiment_id;
}

/** One trace per start time, `batch` traces per OTLP request. */
export async function seedTraces(url: string, experimentId: string, starts: number[], batch = 200): Promise<Seeded[]> {
  const exporter = new OTLPTraceExporter({
    url: `${url}/v1/traces`,
    headers: { 'x-mlflow-experiment-id': experimentId },
    timeoutMillis: 60_000,
  });
  const out: Seeded[] = [];
  try {
    for (let i = 0; i < starts.length; i += batch) {
      const traces = starts.slice(i, i + batch).map((start) => traceAt(start));
      await new Promise<void>((resolve, reject) =>
        exporter.export(
          traces.flatMap((t) => toReadableSpans(t)),
          (r) => (r.code === ExportResultCode.SUCCESS ? resolve() : reject(r.error ?? new Error('export failed'))),
        ),
      );
      out.push(...traces.map((t) => ({ id: `tr-${t.traceId}`, startMs: t.startMs })));
    }
  } finally {
    await exporter.shutdown().catch(() => undefined);
  }
  return out;
}

/**
 * Every trace of an experiment, read through MLflow's Python client from a
 * server URL or a `sqlite:///` URI: id, timestamp and span count.
 */
export async function listTraces(trackingUri: string, experimentId: string): Promise<{ id: string; timestampMs: number; spans: number }[]> {
  const code = `
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
out, token = [], None
while True:
    page = c.search_traces(locations=[sys.argv[2]], max_results=500, page_token=token)
    out += [{"id": t.info.trace_id, "timestampMs": t.info.request_time, "spans": len(t.data.spans)} for t in page]
    token = page.token
    if not token:
        break
print(json.dumps(out))
`;
  const { stdout } = await execa(venvBin('python'), ['-c', code, trackingUri, experimentId], {
    env: { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/**
 * Read MLflow's tables directly — in the TEST only — to prove that no trace
 * is half-deleted: no span, tag or metadata row without its trace, and every
 * trace with all its spans. Also PRAGMA integrity_check.
 */
export async function databaseConsistency(db: string): Promise<{
  integrity: string[];
  traces: number;
  orphanSpans: number;
  orphanTags: number;
  orphanMetadata: number;
  tracesWithMissingSpans: number;
}> {
  const code = `
import json, sqlite3, sys
con = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
q = lambda sql: con.execute(sql).fetchone()[0]
print(json.dumps({
  "integrity": [r[0] for r in con.execute("PRAGMA integrity_check")],
  "traces": q("SELECT count(*) FROM trace_info"),
  "orphanSpans": q("SELECT count(*) FROM spans WHERE trace_id NOT IN (SELECT request_id FROM trace_info)"),
  "orphanTags": q("SELECT count(*) FROM trace_tags WHERE request_id NOT IN (SELECT request_id FROM trace_info)"),
  "orphanMetadata": q("SELECT count(*) FROM trace_request_metadata WHERE request_id NOT IN (SELECT request_id FROM trace_info)"),
  "tracesWithMissingSpans": q("SELECT count(*) FROM trace_info t WHERE (SELECT count(*) FROM spans s WHERE s.trace_id = t.request_id) != ${SPANS_PER_TRACE}"),
}))
`;
  const { stdout } = await execa(venvBin('python'), ['-c', code, db]);
  return JSON.parse(stdout);
}

/** A second process that holds the database with BEGIN EXCLUSIVE until release() is called. */
export async function holdExclusiveLock(db: string): Promise<{ release(): Promise<void> }> {
  const code = `
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
`;
  const child = execa(venvBin('python'), ['-c', code, db], { stdin: 'pipe', stdout: 'pipe', reject: false });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    child.then((r) => reject(new Error(`lock holder exited: ${r.stderr}`)), reject);
  });
  return {
    async release() {
      child.stdin!.end();
      await child;
    },
  };
}
