/**
 * Settings files as people write them: strict JSON, plus // and /* *\/
 * comments and trailing commas (JSONC). Pure: text in, value or error out.
 *
 * Microsoft's jsonc-parser (VS Code's) reads the text. This module adds what
 * a settings file needs on top of it:
 * - an error says what was expected where, at the exact offset (jsonc-parser
 *   reports an error in a string or a number at the token's start, and only
 *   its last one: the first problem inside the token is found here);
 * - a key given twice in one object is an error at the second one: JSON.parse,
 *   and so Claude Code, silently keeps only the last;
 * - the value is built by JSON.parse from the text with its comments and
 *   trailing commas blanked out, so it is exactly what JSON.parse gives
 *   (`__proto__` stays a plain key, 1e400 is Infinity).
 *
 * We do not use comment-json's parser: it silently drops a member with a
 * missing value (`{"a": 1, "b": }` parses as `{"a": 1}`) and turns `[1,,2]`
 * into `[1,null,2]`, and its errors carry no reliable position.
 */
import { findNodeAtLocation, ParseErrorCode, parseTree, visit, type JSONVisitor } from 'jsonc-parser';

/** A syntax error or a duplicate key, at an offset in the text. */
export class JsoncError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'JsoncError';
  }
}

export interface Jsonc {
  value: unknown;
  /** Comments or trailing commas were found: the text is not strict JSON. */
  relaxed: boolean;
}

export type Relaxation = 'comment' | 'trailing-comma';

const NOT_JSON = 'the file is not valid JSON; fix it by hand';
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const KEYWORD = /true|false|null/y;

/** 1-based line and column (in UTF-16 units) of an offset; lines end at '\n'. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

// ---------------------------------------------------------------------------
// One pass over the text

/** What the parser expects next: it decides what an error there is called. */
type Expecting = 'value' | 'key' | 'colon' | 'next' | 'end';

interface ErrorSite {
  offset: number;
  code: ParseErrorCode;
  expecting: Expecting;
  /** The innermost container (undefined at the top level). */
  container: 'object' | 'array' | undefined;
  /** The key just read (for "expected ':' after ..."). */
  key: string;
}

interface Reading {
  error?: ErrorSite;
  duplicate?: { offset: number; key: string; first: number };
  /** [start, end) of each comment. */
  comments: Array<[number, number]>;
  /** The offset of each trailing comma. */
  trailingCommas: number[];
}

/** Runs jsonc-parser's visitor once, keeping the first error, the first duplicate key, comments and trailing commas. */
function read(text: string): Reading {
  const reading: Reading = { comments: [], trailingCommas: [] };
  const containers: Array<'object' | 'array'> = [];
  const keys: Array<Map<string, number>> = [];
  let expecting: Expecting = 'value';
  let key = '';
  let comma: number | undefined;
  const afterValue = (): void => {
    expecting = containers.length > 0 ? 'next' : 'end';
    comma = undefined;
  };
  const close = (): void => {
    if (comma !== undefined) reading.trailingCommas.push(comma);
    containers.pop();
    afterValue();
  };
  const visitor: JSONVisitor = {
    onObjectBegin() {
      containers.push('object');
      keys.push(new Map());
      expecting = 'key';
      comma = undefined;
    },
    onObjectEnd() {
      keys.pop();
      close();
    },
    onArrayBegin() {
      containers.push('array');
      expecting = 'value';
      comma = undefined;
    },
    onArrayEnd: close,
    onLiteralValue: afterValue,
    onObjectProperty(name, offset) {
      const seen = keys[keys.length - 1]!;
      const first = seen.get(name);
      if (first !== undefined) reading.duplicate ??= { offset, key: name, first };
      else seen.set(name, offset);
      key = name;
      expecting = 'colon';
      comma = undefined;
    },
    onSeparator(separator, offset) {
      if (separator === ':') {
        expecting = 'value';
        comma = undefined;
        return;
      }
      expecting = containers[containers.length - 1] === 'object' ? 'key' : 'value';
      comma = offset;
    },
    onComment(offset, length) {
      reading.comments.push([offset, offset + length]);
    },
    onError(code, offset) {
      reading.error ??= { offset, code, expecting, container: containers[containers.length - 1], key };
    },
  };
  visit(text, visitor, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  return reading;
}

// ---------------------------------------------------------------------------
// Naming an error

interface Problem {
  offset: number;
  message: string;
}

/** What is wrong at `offset`, given what was expected there. */
function unexpected(text: string, site: ErrorSite, offset: number, expecting: Expecting): Problem {
  if (offset >= text.length) return { offset: text.length, message: 'unexpected end of file' };
  const say = (message: string): Problem => ({ offset, message });
  switch (expecting) {
    case 'value':
      return say(text[offset] === '-' ? 'invalid number' : `unexpected character ${JSON.stringify(text[offset])}`);
    case 'key':
      return say('expected a property name in double quotes');
    case 'colon':
      return say(`expected ':' after ${JSON.stringify(site.key)}`);
    case 'next':
      return say(site.container === 'object' ? "expected ',' or '}'" : "expected ',' or ']'");
    case 'end':
      return say('unexpected text after the end of the settings object');
  }
}

/** The first problem inside the string literal that starts at `start`, if any. */
function stringProblem(text: string, start: number): Problem | undefined {
  for (let i = start + 1; ; ) {
    const ch = text[i];
    if (ch === undefined || ch === '\n' || ch === '\r') return { offset: start, message: 'unterminated string' };
    if (ch === '"') return undefined;
    if (ch < ' ') return { offset: i, message: 'control character in a string (escape it)' };
    if (ch !== '\\') {
      i++;
      continue;
    }
    const escaped = text[i + 1] ?? '';
    if (escaped === 'u') {
      if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return { offset: i, message: 'invalid \\u escape' };
      i += 6;
    } else if (escaped !== '' && '"\\/bfnrt'.includes(escaped)) {
      i += 2;
    } else {
      return { offset: i, message: 'invalid escape in a string' };
    }
  }
}

/** How long the valid number or keyword at `offset` is (jsonc-parser reads `1.` or `truex` as one bad token). */
function validPrefix(text: string, offset: number): number {
  for (const pattern of [NUMBER, KEYWORD]) {
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    if (match) return match[0].length;
  }
  return 0;
}

/** The first syntax error, named by what was expected where it is. */
function nameProblem(text: string, site: ErrorSite): Problem {
  const { offset, expecting } = site;
  if (site.code === ParseErrorCode.UnexpectedEndOfComment) return { offset, message: 'unterminated /* comment' };
  if ((expecting === 'value' || expecting === 'key') && text[offset] === '"') {
    return stringProblem(text, offset) ?? unexpected(text, site, offset, expecting);
  }
  if (expecting === 'value') {
    const length = validPrefix(text, offset);
    if (length > 0) return unexpected(text, site, offset + length, site.container ? 'next' : 'end');
  }
  return unexpected(text, site, offset, expecting);
}

// ---------------------------------------------------------------------------
// The public functions

/** `text` with `ranges` replaced by spaces (line breaks kept, so offsets and lines stay). */
function blankOut(text: string, ranges: Array<[number, number]>): string {
  let out = '';
  let from = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    out += text.slice(from, start) + text.slice(start, end).replace(/[^\r\n]/g, ' ');
    from = end;
  }
  return out + text.slice(from);
}

/** read(), with a text nested deeper than the parser's recursion can go refused at its start. */
function readOrRefuse(text: string): Reading {
  try {
    return read(text);
  } catch (error) {
    if (error instanceof RangeError) throw new JsoncError(0, 'the file is nested too deeply to read; fix it by hand');
    throw error;
  }
}

/**
 * Parse a JSONC text (no byte order mark). Throws JsoncError at the first
 * syntax error, or at a key given twice in one object.
 */
export function parseJsonc(text: string): Jsonc {
  const reading = readOrRefuse(text);
  if (reading.error) {
    const { offset, message } = nameProblem(text, reading.error);
    throw new JsoncError(offset, `${message} (${NOT_JSON})`);
  }
  if (reading.duplicate) {
    const { offset, key, first } = reading.duplicate;
    const at = lineColumn(text, first);
    throw new JsoncError(
      offset,
      `duplicate key ${JSON.stringify(key)}: JSON keeps only the last value, so the one at ${at.line}:${at.column} is lost; merge them by hand`,
    );
  }
  const blanks = [...reading.comments, ...reading.trailingCommas.map((comma): [number, number] => [comma, comma + 1])];
  try {
    return { value: JSON.parse(blankOut(text, blanks)), relaxed: blanks.length > 0 };
  } catch (error) {
    const position = /position (\d+)/.exec(String(error))?.[1];
    throw new JsoncError(position === undefined ? 0 : Number(position), NOT_JSON);
  }
}

/**
 * The first comment or trailing comma in a JSONC text, as 1-based line and
 * column in that text (a byte order mark counts as a column); undefined when
 * there is none.
 */
export function firstRelaxation(text: string): { line: number; column: number; kind: Relaxation } | undefined {
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const reading = read(text.slice(bom));
  const comment = reading.comments[0]?.[0] ?? Infinity;
  const comma = reading.trailingCommas.reduce((a, b) => Math.min(a, b), Infinity);
  if (comment === Infinity && comma === Infinity) return undefined;
  const kind: Relaxation = comment < comma ? 'comment' : 'trailing-comma';
  return { ...lineColumn(text, bom + Math.min(comment, comma)), kind };
}

/**
 * Where the value at `segments` starts in `text` (for a key: its opening
 * quote), or where the longest prefix of it that exists does.
 */
export function locate(text: string, segments: ReadonlyArray<string | number>): number | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  if (!root) return undefined;
  for (let n = segments.length; n > 0; n--) {
    const node = findNodeAtLocation(root, segments.slice(0, n));
    if (node) return node.parent?.type === 'property' ? node.parent.offset : node.offset;
  }
  return undefined;
}
