/**
 * Quoting for the shell that runs Claude Code hook commands. Every POSIX case
 * is checked by handing the quoted text to a real /bin/sh and reading back
 * what the shell passed on.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLine, quoteArg } from '../../src/core/shell-quote.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const posix = process.platform !== 'win32';

/** What `/bin/sh -c "printf '%s\n' <quoted>"` prints. */
function shPrintf(quoted: string): string {
  return execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${quoted}`], { encoding: 'utf8' });
}

/** The argument list /bin/sh builds from `quoted`: each one NUL-terminated after the count. */
function shArgs(quoted: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `set -- ${quoted}; printf '%s\\000' "$#" "$@"`], { encoding: 'utf8' });
  const parts = out.split('\0');
  expect(parts.pop()).toBe('');
  const count = Number(parts.shift());
  expect(parts).toHaveLength(count);
  return parts;
}

const NASTY = [
  'plain',
  '',
  ' ',
  'with space',
  '  leading and trailing  ',
  "it's",
  "''",
  "'",
  'say "hi"',
  '"',
  '$HOME',
  '${HOME}',
  '$(echo pwned)',
  '`echo pwned`',
  'a\\b\\\\c',
  'back\\',
  'semi;colon && and || or | pipe',
  'glob * ? [abc] ~ ~root',
  '#not a comment',
  '<in >out 2>&1',
  '(sub) {brace}',
  '!bang !!',
  'tab\there',
  'line1\nline2\n',
  '\n',
  'crlf\r\n',
  '-n',
  '--',
  '-e \\n',
  '%s %d %%',
  'key=value',
  'unicode: héllo 你好 مرحبا 👩‍💻',
  'line\u2028separator\u2029paragraph',
  'C:\\Program Files\\nodejs\\node.exe',
  'mix \'single\' "double" $dollar `tick` \\slash',
];

describe.runIf(posix)('quoteArg on POSIX', () => {
  it('leaves safe words alone and quotes the rest', () => {
    expect(quoteArg('/usr/local/bin/node', 'linux')).toBe('/usr/local/bin/node');
    expect(quoteArg('a-b_c.d,e:f@g%h+i=j', 'linux')).toBe('a-b_c.d,e:f@g%h+i=j');
    expect(quoteArg('with space', 'linux')).toBe("'with space'");
    expect(quoteArg("it's", 'linux')).toBe(`'it'\\''s'`);
    expect(quoteArg('', 'linux')).toBe("''");
    expect(quoteArg('$HOME', 'linux')).toBe("'$HOME'");
    expect(quoteArg('`x`', 'linux')).toBe("'`x`'");
  });

  it.each(NASTY)('round-trips %j through /bin/sh exactly', (arg) => {
    expect(shPrintf(quoteArg(arg))).toBe(`${arg}\n`);
    expect(shArgs(quoteArg(arg))).toEqual([arg]);
  });

  it('keeps a whole command line as exactly the arguments given', () => {
    expect(shArgs(commandLine(NASTY))).toEqual(NASTY);
    expect(shPrintf(commandLine(['a b', "c'd", '$e']))).toBe("a b\nc'd\n$e\n");
  });

  it('round-trips arbitrary strings (property)', () => {
    const special = fc.constantFrom(
      "'",
      '"',
      '$',
      '`',
      '\\',
      ' ',
      '\n',
      '\t',
      '\r',
      '!',
      '*',
      '?',
      '~',
      '#',
      ';',
      '&',
      '|',
      '<',
      '>',
      '(',
      ')',
      '{',
      '}',
      '[',
      ']',
      '%',
      '=',
      '-',
      '\u2028',
      '\u00a0',
      'é',
      '中',
      '😀',
      '👩‍💻',
    );
    const unit = fc.oneof(special, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(fc.array(fc.string({ unit, maxLength: 12 }), { minLength: 1, maxLength: 6 }), (args) => {
        const clean = args.map((a) => a.replace(/\0/g, ''));
        expect(shArgs(commandLine(clean))).toEqual(clean);
      }),
      { numRuns: 150 },
    );
  });

  describe('a hook command in a nasty folder', () => {
    let tmp: TempDir;
    beforeAll(async () => {
      tmp = await makeTempDir();
    });
    afterAll(async () => {
      await tmp.cleanup();
    });

    it('runs the script with exactly the arguments given', () => {
      const dir = path.join(tmp.path, `it's a "dir" with $HOME and \`ticks\` and 空白`);
      mkdirSync(dir);
      const script = path.join(dir, 'claude-mlflow-hook.mjs');
      writeFileSync(script, 'process.stdout.write(JSON.stringify(process.argv.slice(2)));\n');
      chmodSync(script, 0o600);
      const args = ['hook', "--flag=it's", 'two words', '$NOPE'];
      const out = execFileSync('/bin/sh', ['-c', commandLine([process.execPath, script, ...args])], { encoding: 'utf8' });
      expect(JSON.parse(out)).toEqual(args);
    });
  });
});

describe('quoteArg on Windows', () => {
  it('double-quotes every argument and doubles inner double quotes', () => {
    expect(quoteArg('C:\\Program Files\\nodejs\\node.exe', 'win32')).toBe('"C:\\Program Files\\nodejs\\node.exe"');
    expect(quoteArg('say "hi"', 'win32')).toBe('"say ""hi"""');
    expect(quoteArg('', 'win32')).toBe('""');
    expect(commandLine(['a', 'b c'], 'win32')).toBe('"a" "b c"');
  });
});
