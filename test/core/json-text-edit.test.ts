import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { editJsonText } from '../../src/core/json-text-edit.js';

const USER = `{
    "big": 1e400,
    "long": 12345678901234567890,
    "env": { "MLFLOW_TRACKING_URI": "http://theirs:5000", "EDITOR": "vim" },
    "hooks": {
        "SubagentStop": [],
        "Stop": [ { "hooks": [ { "type": "command", "command": "echo done" } ] } ]
    }
}
`;

const ours = { hooks: [{ type: 'command', command: 'node hook.mjs', timeout: 5 }] };

function withOurs(doc: any) {
  const next = structuredClone(doc);
  next.env.MLFLOW_TRACKING_URI = 'http://127.0.0.1:5000';
  next.env.MLFLOW_CLAUDE_TRACING_ENABLED = 'true';
  next.hooks.Stop.push(ours);
  next.hooks.SubagentStop.push(ours);
  next.hooks.SessionEnd = [ours];
  return next;
}

describe('editJsonText', () => {
  it('changes only what differs: numbers JavaScript cannot hold, key order and spacing stay', () => {
    const before = JSON.parse(USER);
    const text = editJsonText(USER, before, withOurs(before), { indent: '    ' });
    expect(JSON.parse(text)).toEqual(withOurs(before));
    expect(text).toContain('"big": 1e400');
    expect(text).toContain('"long": 12345678901234567890');
    expect(text).toContain('"env": { "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000", "EDITOR": "vim", ');
    expect(text).toContain('"Stop": [ { "hooks": [ { "type": "command", "command": "echo done" } ] }, ');
    expect(text).toMatch(/\n {8}"SessionEnd": \[\n {12}\{\n {16}"hooks": \[/);
  });

  it('taking our keys out again gives back the same bytes', () => {
    const before = JSON.parse(USER);
    const edited = editJsonText(USER, before, withOurs(before), { indent: '    ' });
    expect(editJsonText(edited, JSON.parse(edited), before, { indent: '    ' })).toBe(USER);
  });

  it('fills an empty object on lines of its own, and empties it again', () => {
    const text = '{\r\n\t"a": {}\r\n}\r\n';
    const added = editJsonText(text, { a: {} }, { a: { b: [1] } }, { indent: '\t', eol: '\r\n' });
    expect(added).toBe('{\r\n\t"a": {\r\n\t\t"b": [\r\n\t\t\t1\r\n\t\t]\r\n\t}\r\n}\r\n');
    expect(editJsonText(added, { a: { b: [1] } }, { a: {} }, { indent: '\t', eol: '\r\n' })).toBe(text);
  });

  const value = fc.letrec((tie) => ({
    json: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('json'), { maxLength: 3 }),
    object: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tie('json'), { maxKeys: 4 }),
  }));
  const object = value.object as fc.Arbitrary<Record<string, unknown>>;

  it('gives the document wanted, whatever the two documents (property)', () => {
    fc.assert(
      fc.property(object, object, fc.constantFrom('  ', '    ', '\t', ''), (before, after, indent) => {
        const text = JSON.stringify(before, null, indent);
        expect(JSON.parse(editJsonText(text, before, after, { indent: indent || '  ' }))).toEqual(after);
      }),
      { numRuns: 300 },
    );
  });

  it('adding keys and taking them out again is byte-identical (property)', () => {
    fc.assert(
      fc.property(object, object, fc.constantFrom('  ', '    ', '\t', ''), (before, extra, indent) => {
        const added = Object.fromEntries(Object.entries(extra).filter(([k]) => !(k in before)));
        const after = { ...before, ...added };
        const text = JSON.stringify(before, null, indent);
        const edited = editJsonText(text, before, after, { indent: indent || '  ' });
        expect(editJsonText(edited, JSON.parse(edited), before, { indent: indent || '  ' })).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
