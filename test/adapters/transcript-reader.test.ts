/**
 * readTranscript: JSONL in, rows pushed into a TurnBuilder; bad lines are
 * skipped and counted, and a transcript of any size is read in bounded memory.
 *
 * The memory test runs in a child process that imports the compiled reader
 * from dist/ (`.ci/run` runs `npm run build` before the tests; the test does
 * not build), so that its max RSS is the reader's alone.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTranscript } from '../../src/adapters/transcript-reader.js';
import { traceFromRows } from '../../src/core/transcript.js';
import { readJsonl } from '../helpers/claude-cli.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
// @ts-expect-error -- a plain .mjs script without type declarations
import { generateTranscript } from '../../bench/gen-transcript.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const distReader = path.join(repoRoot, 'dist', 'adapters', 'transcript-reader.js');
const unicodeFixture = path.join(repoRoot, 'test', 'fixtures', 'transcripts', 'unicode', 'transcript.jsonl');

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const prompt = (content: string, ts: string) =>
  JSON.stringify({ type: 'user', uuid: `u-${ts}`, timestamp: ts, message: { role: 'user', content } });
const answer = (id: string, text: string, ts: string) =>
  JSON.stringify({
    type: 'assistant',
    uuid: `a-${ts}`,
    timestamp: ts,
    message: { id, role: 'assistant', model: 'm', content: [{ type: 'text', text }], usage: { input_tokens: 11, output_tokens: 7 } },
  });

describe('readTranscript', () => {
  it('skips garbage, JSON that is not an object, and a truncated last line, counting them as bad', async () => {
    const file = path.join(tmp.path, 'bad-lines.jsonl');
    const truncated = prompt('never finished', '2026-01-01T00:00:09.000Z').slice(0, 50);
    const lines = [
      prompt('first prompt', '2026-01-01T00:00:00.000Z'),
      '',
      '   \t ',
      'this is not json',
      '{"type": "user", "message": ',
      '[1, 2, 3]',
      '[{"type":"user","message":{"role":"user","content":"in an array"}}]',
      '42',
      '"a string"',
      'null',
      answer('m1', 'first answer', '2026-01-01T00:00:01.000Z'),
      '',
      prompt('last prompt', '2026-01-01T00:00:02.000Z'),
      answer('m2', 'last answer', '2026-01-01T00:00:03.000Z'),
      truncated, // the last line, with no newline: a write cut short
    ];
    writeFileSync(file, lines.join('\n'));
    const { builder, rows, badLines } = await readTranscript(file);
    expect(rows).toBe(4);
    // Blank lines are skipped but are not bad: a trailing newline is normal.
    expect(badLines).toBe(8);
    const trace = builder.build({ sessionId: 's' })!;
    expect(trace.spans[0]!.inputs).toEqual({ prompt: 'last prompt' });
    expect(trace.spans[0]!.outputs).toEqual({ status: 'completed', response: 'last answer' });
    expect(JSON.stringify(trace)).not.toContain('in an array');
  });

  it('reads CRLF line endings and a missing final newline', async () => {
    const file = path.join(tmp.path, 'crlf.jsonl');
    writeFileSync(file, [prompt('hi', '2026-01-01T00:00:00.000Z'), answer('m1', 'hello', '2026-01-01T00:00:01.000Z')].join('\r\n'));
    const { builder, rows, badLines } = await readTranscript(file);
    expect({ rows, badLines }).toEqual({ rows: 2, badLines: 0 });
    expect(builder.build({ sessionId: 's' })!.spans[0]!.outputs).toEqual({ status: 'completed', response: 'hello' });
  });

  it('reads an empty file as no rows and no trace', async () => {
    const file = path.join(tmp.path, 'empty.jsonl');
    writeFileSync(file, '');
    const { builder, rows, badLines } = await readTranscript(file);
    expect({ rows, badLines }).toEqual({ rows: 0, badLines: 0 });
    expect(builder.build({ sessionId: 's' })).toBeUndefined();
  });

  it('rejects a missing file', async () => {
    await expect(readTranscript(path.join(tmp.path, 'nope.jsonl'))).rejects.toThrow(/ENOENT/);
  });

  it('keeps a row with raw U+2028 / U+2029 / U+0085 inside its strings as one row', async () => {
    const file = path.join(tmp.path, 'separators.jsonl');
    const text = 'a\u2028b\u2029c\u0085d';
    const line = prompt(text, '2026-01-01T00:00:00.000Z');
    expect(line).toContain('\u2028'); // JSON.stringify leaves it raw
    writeFileSync(file, `${line}\n${answer('m1', text, '2026-01-01T00:00:01.000Z')}\n`);
    const { builder, rows, badLines } = await readTranscript(file);
    expect({ rows, badLines }).toEqual({ rows: 2, badLines: 0 });
    const trace = builder.build({ sessionId: 's' })!;
    expect(trace.spans[0]!.inputs).toEqual({ prompt: text });
    expect(trace.spans[0]!.outputs).toEqual({ status: 'completed', response: text });
  });

  it('reads the recorded unicode transcript row for row, as a whole-file parse does', async () => {
    const raw = readFileSync(unicodeFixture, 'utf8');
    expect(raw).toContain('\u2028');
    const expected = await readJsonl(unicodeFixture);
    const { builder, rows, badLines } = await readTranscript(unicodeFixture);
    expect({ rows, badLines }).toEqual({ rows: expected.length, badLines: 0 });
    expect(builder.build({ sessionId: 's', user: 'dev' })).toEqual(traceFromRows(expected, { sessionId: 's', user: 'dev' }));
  });
});

describe('a 100 MB transcript', () => {
  it('is read in bounded memory, to the last turn', async () => {
    expect(existsSync(distReader), `${distReader} is missing: run npm run build first`).toBe(true);
    const file = path.join(tmp.path, 'big.jsonl');
    const generated = generateTranscript(file, { megabytes: 100 }) as {
      bytes: number;
      rows: number;
      turns: number;
      lastPrompt: string;
      lastTurn: { llmCalls: number; toolCalls: number; spans: number };
    };
    expect(statSync(file).size).toBe(generated.bytes);
    expect(generated.bytes).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    expect(generated.lastTurn.toolCalls).toBeGreaterThan(0);

    const script = `
      import { readTranscript } from ${JSON.stringify(pathToFileURL(distReader).href)};
      const { builder, rows, badLines } = await readTranscript(process.env.TRANSCRIPT);
      const trace = builder.build({ sessionId: 'bench' });
      process.stdout.write(JSON.stringify({
        rows,
        badLines,
        spans: trace.spans.length,
        names: trace.spans.map((s) => s.name),
        prompt: trace.spans[0].inputs.prompt,
        maxRssMB: process.resourceUsage().maxRSS / 1024,
      }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, TRANSCRIPT: file },
      maxBuffer: 1024 * 1024,
    });
    const result = JSON.parse(stdout) as {
      rows: number;
      badLines: number;
      spans: number;
      names: string[];
      prompt: string;
      maxRssMB: number;
    };
    console.log(
      `100 MB transcript (${(generated.bytes / 1048576).toFixed(1)} MiB, ${generated.rows} rows, ${generated.turns} turns): max RSS ${result.maxRssMB.toFixed(1)} MB`,
    );
    expect(result.rows).toBe(generated.rows);
    expect(result.badLines).toBe(0);
    expect(result.prompt).toBe(generated.lastPrompt);
    expect(result.spans).toBe(generated.lastTurn.spans);
    expect(result.names.filter((n) => n === 'llm')).toHaveLength(generated.lastTurn.llmCalls);
    expect(result.names.filter((n) => n.startsWith('tool_'))).toHaveLength(generated.lastTurn.toolCalls);
    expect(result.maxRssMB).toBeLessThan(150);
  });

  it('skips a 300 MB single line without holding it: the rows around it are read, in bounded memory', async () => {
    const file = path.join(tmp.path, 'one-huge-line.jsonl');
    const fd = openSync(file, 'w');
    writeSync(fd, prompt('before the huge line', '2026-01-01T00:00:00.000Z') + '\n');
    writeSync(fd, '{"type":"user","message":{"role":"user","content":"');
    const block = Buffer.alloc(16 * 1024 * 1024, 'z');
    for (let i = 0; i < 300 / 16; i++) writeSync(fd, block);
    writeSync(fd, '"}}\n');
    writeSync(fd, answer('m1', 'after the huge line', '2026-01-01T00:00:01.000Z') + '\n');
    closeSync(fd);
    expect(statSync(file).size).toBeGreaterThan(300 * 1000 * 1000);
    const script = `
      import { readTranscript } from ${JSON.stringify(pathToFileURL(distReader).href)};
      const { builder, rows, badLines } = await readTranscript(process.env.TRANSCRIPT);
      const trace = builder.build({ sessionId: 's' });
      process.stdout.write(JSON.stringify({ rows, badLines, response: trace.spans[0].outputs.response, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, TRANSCRIPT: file },
    });
    const result = JSON.parse(stdout) as { rows: number; badLines: number; response: string; maxRssMB: number };
    console.log(`300 MB single line: max RSS ${result.maxRssMB.toFixed(1)} MB`);
    expect(result).toMatchObject({ rows: 2, badLines: 1, response: 'after the huge line' });
    expect(result.maxRssMB).toBeLessThan(150);
  });
});
