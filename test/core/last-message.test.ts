import { describe, expect, it } from 'vitest';
import { hasLastMessage } from '../../src/core/transcript.js';
import type { TraceModel } from '../../src/core/trace-model.js';

function traceWith(response: unknown): TraceModel {
  return {
    traceId: '0'.repeat(32),
    startMs: 0,
    endMs: 1,
    requestPreview: 'q',
    responsePreview: '',
    metadata: {},
    spans: [
      {
        spanId: '1'.repeat(16),
        name: 'claude_code_conversation',
        spanType: 'AGENT',
        startMs: 0,
        endMs: 1,
        status: 'OK',
        inputs: {},
        outputs: response === undefined ? { status: 'completed' } : { status: 'completed', response },
        attributes: {},
      },
    ],
  };
}

describe('hasLastMessage', () => {
  it('true when the final response is the last assistant message, whitespace aside', () => {
    expect(hasLastMessage(traceWith('The file says hello.\n\nDone.'), 'The file says hello. Done.')).toBe(true);
  });

  it('false when the transcript has not caught up: another (earlier) response, or none', () => {
    expect(hasLastMessage(traceWith('Let me read that file.'), 'The file says hello. Done.')).toBe(false);
    expect(hasLastMessage(traceWith(undefined), 'The file says hello. Done.')).toBe(false);
  });

  it('a message of several text blocks (Claude Code joins them with newlines; the trace keeps the last)', () => {
    expect(hasLastMessage(traceWith('Done.'), 'Here is the summary.\nDone.')).toBe(true);
  });

  it('a long message: the start of a capped response decides', () => {
    const long = `${'x'.repeat(300)} end`;
    expect(hasLastMessage(traceWith(`${'x'.repeat(250)}…`), long)).toBe(true);
    expect(hasLastMessage(traceWith('x'.repeat(50)), long)).toBe(false);
  });

  it('no message given, or an empty one: nothing to wait for', () => {
    expect(hasLastMessage(traceWith(undefined), undefined)).toBe(true);
    expect(hasLastMessage(traceWith(undefined), '  ')).toBe(true);
  });
});
