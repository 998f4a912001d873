/**
 * A trace's spans as MLflow's TraceData JSON (`traces.json`): the artifact
 * that holds the spans where the tracking server keeps them in artifact
 * storage, as Databricks does. The shape is MLflow's `Span.to_dict()`
 * (mlflow/entities/span.py, 3.x): ids as base64 bytes, times in integer
 * nanoseconds, and every attribute value as JSON text. Pure.
 */
import { mlflowTraceId, type SpanModel, type TraceModel } from './trace-model.js';

function base64OfHex(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** Integer nanoseconds as a JSON number: too large for a double, so it is written as digits. */
const NANOS = '\u0000ns:';
function nanos(ms: number): string {
  return `${NANOS}${BigInt(Math.round(ms)) * 1_000_000n}`;
}

function spanDict(span: SpanModel, trace: TraceModel): Record<string, unknown> {
  const attributes: Record<string, string> = {
    'mlflow.traceRequestId': JSON.stringify(mlflowTraceId(trace.traceId)),
    'mlflow.spanType': JSON.stringify(span.spanType),
    'mlflow.spanInputs': JSON.stringify(span.inputs ?? null),
    'mlflow.spanOutputs': JSON.stringify(span.outputs ?? null),
  };
  for (const [key, value] of Object.entries(span.attributes)) attributes[key] = JSON.stringify(value ?? null);
  return {
    trace_id: base64OfHex(trace.traceId),
    span_id: base64OfHex(span.spanId),
    parent_span_id: span.parentSpanId ? base64OfHex(span.parentSpanId) : null,
    name: span.name,
    start_time_unix_nano: nanos(span.startMs),
    end_time_unix_nano: nanos(Math.max(span.endMs, span.startMs)),
    events: [],
    status:
      span.status === 'ERROR' ? { code: 'STATUS_CODE_ERROR', message: span.statusMessage ?? '' } : { code: 'STATUS_CODE_OK', message: '' },
    attributes,
  };
}

/** `{"spans": [...]}`, root first, as MLflow's TraceData.to_dict() writes it. */
export function traceDataJson(trace: TraceModel): string {
  const text = JSON.stringify({ spans: trace.spans.map((span) => spanDict(span, trace)) });
  return text.replace(/"\\u0000ns:(\d+)"/g, '$1');
}
