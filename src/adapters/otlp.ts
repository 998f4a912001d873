/**
 * Export a trace to MLflow's OTLP/HTTP ingest (`/v1/traces`), with the
 * OpenTelemetry SDK's own protobuf exporter. Our span tree has fixed ids and
 * times, so it is handed to the exporter as finished ReadableSpans.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Agent as HttpAgent } from 'node:http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanModel, TraceModel } from '../core/trace-model.js';
import { HttpError } from './http.js';

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
      status:
        span.status === 'ERROR'
          ? { code: SpanStatusCode.ERROR, message: span.statusMessage ?? '' }
          : { code: SpanStatusCode.OK },
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

/**
 * The exporter's error, as an HttpError that names the call and the status
 * (the exporter's own message is only the status text, e.g. "Not Found").
 */
function exportError(error: (Error & { code?: unknown; data?: unknown }) | undefined): HttpError {
  const status = typeof error?.code === 'number' ? error.code : undefined;
  const detail = typeof error?.data === 'string' && error.data ? error.data.slice(0, 300) : (error?.message ?? 'OTLP export failed');
  return new HttpError(status === undefined ? `POST /v1/traces: ${detail}` : `POST /v1/traces → HTTP ${status}: ${detail}`, status);
}

/** Resolves when the server accepted every span; rejects otherwise. */
export async function exportTrace(trace: TraceModel, options: OtlpExportOptions): Promise<void> {
  const exporter = new OTLPTraceExporter({
    url: `${options.trackingUri.replace(/\/+$/, '')}/v1/traces`,
    headers: { ...options.headers, 'x-mlflow-experiment-id': options.experimentId },
    timeoutMillis: options.timeoutMs,
    ...(options.agent ? { httpAgentOptions: () => options.agent! } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      exporter.export(toReadableSpans(trace), (result) => {
        if (result.code === ExportResultCode.SUCCESS) resolve();
        else reject(exportError(result.error));
      });
    });
  } finally {
    void exporter.shutdown().catch(() => undefined);
  }
}
