/**
 * Export a trace to MLflow's OTLP/HTTP ingest (`/v1/traces`): our span tree,
 * which has fixed ids and times, as finished ReadableSpans serialised by the
 * OpenTelemetry SDK's own protobuf serializer, in one request of ours. Not
 * through the SDK's exporter: it retries a refused connection for up to
 * 13 s inside one call, and the delivery process does its own retrying.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Agent as HttpAgent } from 'node:http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanModel, TraceModel } from '../core/trace-model.js';
import { HttpError, httpRequestText } from './http.js';

const SCOPE = { name: 'claude-mlflow', version: '1' };

function hrTime(ms: number): HrTime {
  const whole = Math.floor(ms);
  return [Math.floor(whole / 1000), (whole % 1000) * 1_000_000];
}

/** Strings go as they are; anything structured goes as its JSON text. */
function attributeValue(value: unknown): string | number | boolean {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return JSON.stringify(value ?? null);
}

export function spanAttributes(span: SpanModel): Attributes {
  const attributes: Attributes = {
    'mlflow.spanType': span.spanType,
    'mlflow.spanInputs': JSON.stringify(span.inputs ?? null),
    'mlflow.spanOutputs': JSON.stringify(span.outputs ?? null),
  };
  for (const [key, value] of Object.entries(span.attributes)) attributes[key] = attributeValue(value);
  return attributes;
}

export function toReadableSpans(trace: TraceModel): ReadableSpan[] {
  const resource = resourceFromAttributes({ 'service.name': 'claude-code' });
  return trace.spans.map((span): ReadableSpan => {
    const context = { traceId: trace.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED };
    const start = hrTime(span.startMs);
    const end = hrTime(Math.max(span.endMs, span.startMs));
    return {
      name: span.name,
      kind: SpanKind.INTERNAL,
      spanContext: () => context,
      parentSpanContext: span.parentSpanId
        ? { traceId: trace.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED }
        : undefined,
      startTime: start,
      endTime: end,
      duration: hrTime(Math.max(span.endMs, span.startMs) - span.startMs),
      status: span.status === 'ERROR' ? { code: SpanStatusCode.ERROR, message: span.statusMessage ?? '' } : { code: SpanStatusCode.OK },
      attributes: spanAttributes(span),
      links: [],
      events: [],
      ended: true,
      resource,
      instrumentationScope: SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  });
}

export interface OtlpExportOptions {
  trackingUri: string;
  experimentId: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Reuse a connection already open to the server (see keepAliveAgents in http.ts). */
  agent?: HttpAgent;
}

/** Resolves when the server accepted every span; rejects otherwise (an HttpError with the status when it answered). */
export async function exportTrace(trace: TraceModel, options: OtlpExportOptions): Promise<void> {
  const body = ProtobufTraceSerializer.serializeRequest(
    toReadableSpans(trace) as Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0],
  );
  if (!body) throw new HttpError('POST /v1/traces: the spans could not be serialised');
  const res = await httpRequestText(`${options.trackingUri.replace(/\/+$/, '')}/v1/traces`, {
    method: 'POST',
    headers: { ...options.headers, 'content-type': 'application/x-protobuf', 'x-mlflow-experiment-id': options.experimentId },
    body,
    timeoutMs: options.timeoutMs,
    ...(options.agent ? { agent: options.agent } : {}),
  });
  if (res.status < 200 || res.status >= 300)
    throw new HttpError(`POST /v1/traces → HTTP ${res.status}: ${res.body.slice(0, 300)}`, res.status);
}
