/**
 * The JSONC reader of settings files: what each syntax error is called and
 * where it is (line and column as an editor shows them: 1-based, UTF-16
 * units, lines ending at '\n'), duplicate keys refused at the second one,
 * and values exactly as JSON.parse gives them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstRelaxation, JsoncError, lineColumn, locate, parseJsonc } from '../../src/core/jsonc.js';

/** `line:column: message` of the error parseJsonc throws for `text`. */
function errorAt(text: string): string {
  try {
    parseJsonc(text);
  } catch (error) {
    if (!(error instanceof JsoncError)) throw error;
    const { line, column } = lineColumn(text, error.offset);
    return `${line}:${column}: ${error.message.replace(' (the file is not valid JSON; fix it by hand)', '')}`;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('parseJsonc', () => {
  it('reads strict JSON as not relaxed, and comments or trailing commas as relaxed', () => {
    expect(parseJsonc('{"a": [1, 2]}')).toEqual({ value: { a: [1, 2] }, relaxed: false });
    expect(parseJsonc('{\n  // c\n  "a": 1\n}')).toEqual({ value: { a: 1 }, relaxed: true });
    expect(parseJsonc('{"a": [1, 2,], /* c */}')).toEqual({ value: { a: [1, 2] }, relaxed: true });
  });

  it('gives what JSON.parse gives: __proto__ stays a plain key, 1e400 is Infinity', () => {
    const { value } = parseJsonc('{"__proto__": {"polluted": true}, "big": 1e400}') as { value: Record<string, unknown> };
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'big']);
    expect(value.big).toBe(Infinity);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['{"a" 1}', `1:6: expected ':' after "a"`],
    ['{"a": 1.}', "1:8: expected ',' or '}'"],
    ['{"a": 1e+}', "1:8: expected ',' or '}'"],
    ['{"a": 01}', "1:8: expected ',' or '}'"],
    ['{"a": truex}', "1:11: expected ',' or '}'"],
    ['{"a": [1,]]}', "1:11: expected ',' or '}'"],
    ['[1 2]', "1:4: expected ',' or ']'"],
    ['{"a": -}', '1:7: invalid number'],
    ['{"a": "\\x"}', '1:8: invalid escape in a string'],
    ['{"a": "\\u12g4"}', '1:8: invalid \\u escape'],
    ['{"a": "x\ty\n}', '1:9: control character in a string (escape it)'],
    ['{,}', '1:2: expected a property name in double quotes'],
    ['// only a comment', '1:18: unexpected end of file'],
  ])('names the first error in %j and where it is', (text, expected) => {
    expect(errorAt(text)).toBe(expected);
  });

  it('counts columns in UTF-16 units, as editors do', () => {
    expect(errorAt('{"é😀": x}')).toBe('1:9: unexpected character "x"');
    expect(errorAt('{\n  "😀😀": "a\tb"\n}')).toBe('2:13: control character in a string (escape it)');
  });

  it('ends lines at \\n: a CR before it is not a column of the next line', () => {
    expect(errorAt('{\r\n  "a": 1\r\n  "b": 2\r\n}\r\n')).toBe("3:3: expected ',' or '}'");
    expect(errorAt('{\r\n  "a": "x\r\n}')).toBe('2:8: unterminated string');
    expect(errorAt('{\r\n  "a": 1,\r\n}\r\n  x')).toBe('4:3: unexpected text after the end of the settings object');
  });

  it('refuses a text nested deeper than it can read, at its start', () => {
    const deep = `{"a": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(errorAt(deep)).toBe('1:1: the file is nested too deeply to read; fix it by hand');
  });
});

describe('duplicate keys', () => {
  it('refuses a key given twice, at the second one, naming where the first is', () => {
    const text = '{"env":{"A":"1"},"env":{"B":"2"}}';
    expect(errorAt(text)).toBe('1:18: duplicate key "env": JSON keeps only the last value, so the one at 1:2 is lost; merge them by hand');
  });

  it('refuses a nested duplicate, and one spelled with an escape', () => {
    expect(errorAt('{\n  "env": {\n    "A": "1",\n    "A": "2"\n  }\n}\n')).toMatch(/^4:5: duplicate key "A": .* at 3:5 is lost/);
    expect(errorAt('{"hooks": {"Stop": [{"hooks": [{"type": "command", "type": "x"}]}]}}')).toMatch(
      /^1:52: duplicate key "type": .* at 1:33 is lost/,
    );
    expect(errorAt('{"a": 1, "\\u0061": 2}')).toMatch(/^1:10: duplicate key "a"/);
  });

  it('refuses duplicates in a relaxed file too, and reports a syntax error before a duplicate', () => {
    expect(errorAt('{\n  // c\n  "a": 1,\n  "a": 2,\n}')).toMatch(/^4:3: duplicate key "a"/);
    expect(errorAt('{"a": 1, "a": 2, "b" 3}')).toBe(`1:22: expected ':' after "b"`);
  });

  it('accepts the same key in different objects', () => {
    expect(parseJsonc('{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]}').value).toEqual({
      a: { x: 1 },
      b: { x: 2 },
      c: [{ x: 3 }, { x: 4 }],
    });
  });

  it('whatever strict JSON without duplicates: the same value as JSON.parse, not relaxed', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const value: unknown = JSON.parse(text);
        if (typeof value !== 'object' || value === null) return;
        expect(parseJsonc(text)).toEqual({ value, relaxed: false });
      }),
    );
  });
});

describe('lineColumn', () => {
  it('is 1-based and clamps offsets outside the text', () => {
    expect(lineColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn('ab\ncd', 99)).toEqual({ line: 2, column: 3 });
    expect(lineColumn('ab', -1)).toEqual({ line: 1, column: 1 });
  });
});

describe('firstRelaxation', () => {
  it('finds the first comment or trailing comma, not one inside a string', () => {
    expect(firstRelaxation('{\n  "a": "// not a comment",\n  // here\n  "b": 1\n}')).toEqual({ line: 3, column: 3, kind: 'comment' });
    expect(firstRelaxation('{\r\n  "a": 1, // c\r\n}')).toEqual({ line: 2, column: 9, kind: 'trailing-comma' });
    expect(firstRelaxation('{"a": "x,}"}')).toBeUndefined();
  });

  it('counts a byte order mark as a column of the first line', () => {
    expect(firstRelaxation('\uFEFF// c\n{}')).toEqual({ line: 1, column: 2, kind: 'comment' });
    expect(firstRelaxation('\uFEFF{"a":1,}')).toEqual({ line: 1, column: 8, kind: 'trailing-comma' });
  });
});

describe('locate', () => {
  const text = '{\n  "hooks": {\n    "Stop": [\n      {"hooks": "echo"}\n    ]\n  }\n}';

  it('finds a key at its opening quote, an array item at its start', () => {
    expect(lineColumn(text, locate(text, ['hooks', 'Stop'])!)).toEqual({ line: 3, column: 5 });
    expect(lineColumn(text, locate(text, ['hooks', 'Stop', 0])!)).toEqual({ line: 4, column: 7 });
    expect(lineColumn(text, locate(text, ['hooks', 'Stop', 0, 'hooks'])!)).toEqual({ line: 4, column: 8 });
  });

  it('falls back to the longest prefix that exists; undefined when none does', () => {
    expect(lineColumn(text, locate(text, ['hooks', 'Missing', 3])!)).toEqual({ line: 2, column: 3 });
    expect(locate(text, ['nothing'])).toBeUndefined();
    expect(locate(text, [])).toBeUndefined();
  });
});
