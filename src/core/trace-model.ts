/**
 * The trace we build from a transcript, as plain data. It is what the hook
 * exports and what the spool stores, so it must stay JSON-serialisable.
 * Times are epoch milliseconds: the transcript has millisecond precision.
 */

export type SpanType = 'AGENT' | 'LLM' | 'TOOL';

export interface SpanModel {
  /** 16 lowercase hex characters. */
  spanId: string;
  parentSpanId?: string;
  name: string;
  spanType: SpanType;
  startMs: number;
  endMs: number;
  status: 'OK' | 'ERROR';
  statusMessage?: string;
  inputs: unknown;
  outputs: unknown;
  /** Extra attributes, written as they are (strings) or as JSON (anything else). */
  attributes: Record<string, unknown>;
}

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export interface TraceModel {
  /** 32 lowercase hex characters; MLflow's trace id is `tr-` + this. */
  traceId: string;
  startMs: number;
  endMs: number;
  requestPreview: string;
  responsePreview: string;
  /** Trace metadata, as MLflow's own Claude Code integration writes it. */
  metadata: Record<string, string>;
  tokenUsage?: TokenUsage;
  /** The root span comes first. */
  spans: SpanModel[];
}

export function mlflowTraceId(traceId: string): string {
  return `tr-${traceId}`;
}
