import { describe, expect, it } from 'vitest';
import { capTraceSize, capValue, sizeCapsFor, SPAN_FIELD_MAX_BYTES, TRACE_MAX_BYTES } from '../../src/core/size-caps.js';

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

describe('size caps', () => {
  it('a value within the cap is the same object', () => {
    const value = { result: 'x'.repeat(1000) };
    expect(capValue(value, 64 * 1024)).toBe(value);
  });

  it('a 5 MB tool result is cut to the cap, with a marker that says how much was cut', () => {
    const capped = capValue({ result: 'y'.repeat(5_000_000) }, SPAN_FIELD_MAX_BYTES) as { result: string };
    expect(bytes(capped)).toBeLessThanOrEqual(SPAN_FIELD_MAX_BYTES);
    expect(bytes(capped)).toBeGreaterThan(SPAN_FIELD_MAX_BYTES - 200);
    expect(capped.result).toMatch(/… \[cut \d+ of 5000000 characters\]$/);
  });

  it('cuts the longest strings first and keeps the shape: short fields untouched', () => {
    const value = {
      model: 'claude',
      messages: [
        { role: 'user', content: 'a'.repeat(100_000) },
        { role: 'user', content: 'short' },
        { role: 'user', content: 'b'.repeat(50_000) },
      ],
    };
    const capped = capValue(value, 32 * 1024) as typeof value;
    expect(bytes(capped)).toBeLessThanOrEqual(32 * 1024);
    expect(capped.model).toBe('claude');
    expect(capped.messages.map((m) => m.role)).toEqual(['user', 'user', 'user']);
    expect(capped.messages[1]!.content).toBe('short');
    expect(capped.messages[0]!.content).toContain('[cut ');
    expect(capped.messages[2]!.content).toContain('[cut ');
  });

  it('a trace over its bound gets tighter cuts on every span', () => {
    const spans = Array.from({ length: 100 }, () => ({ inputs: { text: 'z'.repeat(60_000) }, outputs: { result: 'w'.repeat(60_000) } }));
    const capped = capTraceSize({ spans }, { spanFieldBytes: 64 * 1024, traceBytes: 4 * 1024 * 1024 });
    expect(bytes(capped)).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(capped.spans).toHaveLength(100);
  });

  it('config.json sets the caps; anything else gives the defaults', () => {
    expect(sizeCapsFor({})).toEqual({ spanFieldBytes: SPAN_FIELD_MAX_BYTES, traceBytes: TRACE_MAX_BYTES });
    expect(sizeCapsFor({ maxSpanFieldBytes: 1000, maxTraceBytes: -1 })).toEqual({ spanFieldBytes: 1000, traceBytes: TRACE_MAX_BYTES });
  });
});
