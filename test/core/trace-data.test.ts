import { describe, expect, it } from 'vitest';
import { traceDataJson } from '../../src/core/trace-data.js';
import type { TraceModel } from '../../src/core/trace-model.js';

const trace: TraceModel = {
  traceId: '0123456789abcdef0123456789abcdef',
  startMs: 1795467410065,
  endMs: 1795467411000,
  requestPreview: 'hi',
  responsePreview: 'hello',
  metadata: {},
  spans: [
    {
      spanId: '00000000000000aa',
      name: 'root',
      spanType: 'AGENT',
      startMs: 1795467410065,
      endMs: 1795467411000,
      status: 'OK',
      inputs: { prompt: 'hi' },
      outputs: 'hello',
      attributes: { tool_name: 'Read', n: 3 },
    },
    {
      spanId: '00000000000000bb',
      parentSpanId: '00000000000000aa',
      name: 'tool',
      spanType: 'TOOL',
      startMs: 1795467410100,
      endMs: 1795467410099,
      status: 'ERROR',
      statusMessage: 'boom',
      inputs: undefined,
      outputs: null,
      attributes: {},
    },
  ],
};

describe('traceDataJson', () => {
  const text = traceDataJson(trace);
  const data = JSON.parse(text);

  it("writes times as exact integer nanoseconds (beyond a double's precision)", () => {
    expect(text).toContain('"start_time_unix_nano":1795467410065000000');
    expect(text).toContain('"end_time_unix_nano":1795467411000000000');
    // An end before the start is clamped to the start.
    expect(text).toContain('"start_time_unix_nano":1795467410100000000,"end_time_unix_nano":1795467410100000000');
  });

  it('writes ids as base64 bytes, the root without a parent', () => {
    expect(data.spans[0].trace_id).toBe(Buffer.from(trace.traceId, 'hex').toString('base64'));
    expect(data.spans[0].span_id).toBe(Buffer.from('00000000000000aa', 'hex').toString('base64'));
    expect(data.spans[0].parent_span_id).toBeNull();
    expect(data.spans[1].parent_span_id).toBe(data.spans[0].span_id);
  });

  it('writes every attribute value as JSON text, with the trace id MLflow needs to read it back', () => {
    expect(data.spans[0].attributes).toEqual({
      'mlflow.traceRequestId': '"tr-0123456789abcdef0123456789abcdef"',
      'mlflow.spanType': '"AGENT"',
      'mlflow.spanInputs': '{"prompt":"hi"}',
      'mlflow.spanOutputs': '"hello"',
      tool_name: '"Read"',
      n: '3',
    });
    expect(data.spans[1].attributes['mlflow.spanInputs']).toBe('null');
  });

  it('writes the status by its OpenTelemetry name', () => {
    expect(data.spans[0].status).toEqual({ code: 'STATUS_CODE_OK', message: '' });
    expect(data.spans[1].status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'boom' });
    expect(data.spans[0].events).toEqual([]);
  });
});
