/**
 * Size caps: a span input or output over the cap is cut, its longest
 * strings first and evenly, each with a marker that says how much was cut,
 * so that its shape stays readable; a whole trace over its bound gets a
 * tighter cap on every span. Pure.
 */

/** The default cap on one span's input or output (serialised). */
export const SPAN_FIELD_MAX_BYTES = 64 * 1024;
/** The default bound on a whole trace (serialised): MLflow and SQLite take it in one piece, quickly. */
export const TRACE_MAX_BYTES = 8 * 1024 * 1024;
/** No span field is cut below this, whatever the trace's bound. */
const FLOOR_BYTES = 2 * 1024;

export interface SizeCaps {
  spanFieldBytes: number;
  traceBytes: number;
}

const size = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '');

function stringLengths(value: unknown, out: number[]): void {
  if (typeof value === 'string') out.push(value.length);
  else if (Array.isArray(value)) for (const v of value) stringLengths(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) stringLengths(v, out);
}

/** Whether a value holds so many non-string leaves that its strings alone say little about its size. */
function hasManyValues(value: unknown, budget = { left: 256 }): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (--budget.left < 0) return true;
    if (hasManyValues(v, budget)) return true;
  }
  return false;
}

function cutStrings(value: unknown, limit: number): unknown {
  if (typeof value === 'string') {
    if (value.length <= limit) return value;
    return `${value.slice(0, limit)}… [cut ${value.length - limit} of ${value.length} characters]`;
  }
  if (Array.isArray(value)) return value.map((v) => cutStrings(v, limit));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutStrings(v, limit)]));
  return value;
}

/** `value` within `maxBytes` serialised: every string cut to the longest length that fits (found by halving). */
export function capValue(value: unknown, maxBytes: number): unknown {
  const lengths: number[] = [];
  stringLengths(value, lengths);
  // Surely within the cap (a character is at most 6 bytes as JSON), without serialising it.
  if (lengths.reduce((a, b) => a + b, 0) * 6 + 1024 <= maxBytes && !hasManyValues(value)) return value;
  if (size(value) <= maxBytes) return value;
  let low = 0;
  let high = Math.max(0, ...lengths);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (size(cutStrings(value, mid)) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  return cutStrings(value, low);
}

interface Sized {
  spans: Array<{ inputs: unknown; outputs: unknown }>;
}

/** The trace with every span's input and output within the cap, and the whole within its bound. */
export function capTraceSize<T extends Sized>(
  trace: T,
  caps: SizeCaps = { spanFieldBytes: SPAN_FIELD_MAX_BYTES, traceBytes: TRACE_MAX_BYTES },
): T {
  const capAll = (limit: number): T => ({
    ...trace,
    spans: trace.spans.map((s) => ({ ...s, inputs: capValue(s.inputs, limit), outputs: capValue(s.outputs, limit) })),
  });
  let capped = capAll(caps.spanFieldBytes);
  // Over the bound: an even share for every input and output (leaving room for the rest), tighter until it fits.
  let share = Math.floor((0.9 * caps.traceBytes) / (2 * Math.max(1, trace.spans.length)));
  while (size(capped) > caps.traceBytes && share >= FLOOR_BYTES) {
    capped = capAll(Math.min(share, caps.spanFieldBytes));
    share = Math.floor(share / 2);
  }
  return capped;
}

/** The caps config.json sets (`maxSpanFieldBytes`, `maxTraceBytes`), else the defaults. */
export function sizeCapsFor(config: { maxSpanFieldBytes?: number; maxTraceBytes?: number }): SizeCaps {
  const positive = (n: unknown, fallback: number): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : fallback);
  return {
    spanFieldBytes: positive(config.maxSpanFieldBytes, SPAN_FIELD_MAX_BYTES),
    traceBytes: positive(config.maxTraceBytes, TRACE_MAX_BYTES),
  };
}
