#!/usr/bin/env node
/**
 * Generate a large, realistic Claude Code transcript (JSONL), shaped like
 * what Claude Code 2.1.197 writes (see test/fixtures/transcripts/):
 *
 * - each turn: a queue `enqueue` + `dequeue`, the user prompt row, two
 *   `attachment` rows, then model calls. One API response becomes several
 *   assistant rows (one per content block) that share `message.id` and each
 *   repeat the response's final usage. Tool calls (1–2 per response) are
 *   answered by user rows holding a `tool_result` (20–200 KB, some errors)
 *   and a `toolUseResult` that repeats the content, as Read does. The turn
 *   ends with a text response and a `last-prompt` row.
 * - strings carry non-ASCII text and raw U+2028 / U+2029 (JSON.stringify
 *   leaves them unescaped), as real transcripts can.
 *
 * Usage: node bench/gen-transcript.mjs <out.jsonl> <MB> [turns]
 * Prints a JSON summary (rows, bytes, turns, the last prompt, and the spans
 * the last turn's trace must have).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const VERSION = '2.1.197';
const MODEL = 'claude-opus-4-8';
const CWD = '/home/dev/project';
const USAGE = {
  input_tokens: 11,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: 7,
  server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  service_tier: 'standard',
  cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
  inference_geo: '',
  iterations: [],
  speed: 'standard',
};

/**
 * A small deterministic PRNG (mulberry32), so a seed gives the same file.
 * @param {number} seed
 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @typedef {() => number} Random */

/** @param {Random} rand */
function uuidFrom(rand) {
  const h = () =>
    Math.floor(rand() * 0x10000)
      .toString(16)
      .padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

const WORDS = [
  'const',
  'let',
  'return',
  'await',
  'function',
  'import',
  'export',
  'if',
  'else',
  'for',
  'while',
  'new',
  'this',
  'value',
  'result',
  'error',
  'config',
  'options',
  'transcript',
  'session',
  'span',
  'trace',
  'builder',
  'row',
  'résumé',
  'naïve',
  '你好',
  'こんにちは',
  'مرحبا',
  'שלום',
  '👋🏽',
  '👩‍💻',
  '=>',
  '{',
  '}',
  '(',
  ')',
  ';',
  '"quoted"',
  "'single'",
  '\\path\\to',
  '$HOME',
  '`tick`',
  '\t',
];

/**
 * @param {Random} rand
 * @param {number} count
 */
function makeLinePool(rand, count) {
  const lines = [];
  for (let i = 0; i < count; i += 1) {
    const n = 3 + Math.floor(rand() * 14);
    const parts = [];
    for (let j = 0; j < n; j += 1) parts.push(WORDS[Math.floor(rand() * WORDS.length)]);
    let line = '  '.repeat(Math.floor(rand() * 4)) + parts.join(' ');
    if (i % 97 === 0) line += ' \u2028 raw line separator \u2029 and paragraph separator';
    lines.push(line);
  }
  return lines;
}

/**
 * Write a transcript of about `megabytes` MB to `file`.
 * @param {string} file
 * @param {{ megabytes: number, turns?: number, seed?: number }} options
 */
export function generateTranscript(file, { megabytes, turns, seed = 1 }) {
  const rand = rng(seed);
  const target = Math.round(megabytes * 1024 * 1024);
  const turnCount = Math.max(1, turns ?? Math.ceil(megabytes * 2));
  const sessionId = uuidFrom(rand);
  const pool = makeLinePool(rand, 4000);
  const fd = openSync(file, 'w');

  let bytes = 0;
  let rows = 0;
  /** @type {string[]} */
  let chunk = [];
  let chunkBytes = 0;
  let clock = Date.parse('2026-11-25T09:00:00.000Z');
  /** @type {string | null} */
  let parentUuid = null;
  let messageSeq = 0;
  let toolSeq = 0;

  const tick = (/** @type {number} */ ms) => {
    clock += ms;
    return new Date(clock).toISOString();
  };
  const flush = () => {
    if (chunk.length === 0) return;
    writeSync(fd, chunk.join(''));
    chunk = [];
    chunkBytes = 0;
  };
  const emit = (/** @type {object} */ row) => {
    const line = `${JSON.stringify(row)}\n`;
    const size = Buffer.byteLength(line);
    chunk.push(line);
    chunkBytes += size;
    bytes += size;
    rows += 1;
    if (chunkBytes > 1024 * 1024) flush();
  };
  const common = (/** @type {string} */ uuid, /** @type {string} */ timestamp) => {
    const base = {
      parentUuid,
      isSidechain: false,
      uuid,
      timestamp,
      userType: 'external',
      entrypoint: 'cli',
      cwd: CWD,
      sessionId,
      version: VERSION,
      gitBranch: 'main',
    };
    parentUuid = uuid;
    return base;
  };

  /** About `size` bytes of Read-style output: numbered lines. */
  const fileText = (/** @type {number} */ size) => {
    const out = [];
    let len = 0;
    for (let n = 1; len < size; n += 1) {
      const line = `${String(n).padStart(6)}\t${pool[Math.floor(rand() * pool.length)]}`;
      out.push(line);
      len += Buffer.byteLength(line) + 1;
    }
    return out.join('\n');
  };

  /**
   * @param {string} messageId
   * @param {object} block
   * @param {string} stopReason
   */
  const assistantRow = (messageId, block, stopReason) => ({
    ...common(uuidFrom(rand), tick(2 + Math.floor(rand() * 40))),
    message: {
      id: messageId,
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [block],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: USAGE,
      stop_details: null,
    },
    requestId: `req_${messageId}`,
    type: 'assistant',
  });

  let lastPrompt = '';
  let lastTurn = { llmCalls: 0, toolCalls: 0 };

  for (let t = 0; t < turnCount; t += 1) {
    const turnEnd = Math.round((target * (t + 1)) / turnCount);
    const prompt = `Turn ${t + 1} of ${turnCount}: look at src/module-${t}.ts (ticket #${Math.floor(rand() * 1e6)}) and fix it — 你好 👋`;
    lastPrompt = prompt;
    const promptId = uuidFrom(rand);
    emit({ type: 'queue-operation', operation: 'enqueue', timestamp: tick(500), sessionId, content: prompt });
    emit({ type: 'queue-operation', operation: 'dequeue', timestamp: tick(1), sessionId });
    emit({
      ...common(uuidFrom(rand), tick(20)),
      promptId,
      type: 'user',
      message: { role: 'user', content: prompt },
      permissionMode: 'default',
    });
    for (let k = 0; k < 2; k += 1) {
      emit({
        ...common(uuidFrom(rand), new Date(clock).toISOString()),
        attachment: { type: k === 0 ? 'agent_listing_delta' : 'skill_listing', content: fileText(600) },
        type: 'attachment',
      });
    }

    let llmCalls = 0;
    let toolCalls = 0;
    // Every seventh turn (but never the last) is a plain question and answer.
    const isLast = t === turnCount - 1;
    const withTools = isLast || t % 7 !== 3;
    while (withTools) {
      const left = turnEnd - bytes;
      if (toolCalls > 0 && left < 60 * 1024 && !(isLast && bytes < target)) break;
      const parallel = rand() < 0.3 ? 2 : 1;
      const messageId = `msg_${String(++messageSeq).padStart(8, '0')}`;
      llmCalls += 1;
      if (rand() < 0.7) {
        emit(assistantRow(messageId, { type: 'text', text: `Let me check this (step ${llmCalls}).` }, 'tool_use'));
      }
      const uses = [];
      for (let p = 0; p < parallel; p += 1) {
        const id = `toolu_${String(++toolSeq).padStart(8, '0')}`;
        // Reads return whole files (20–200 KB); Bash returns a little output.
        const use =
          rand() < 0.6
            ? { id, name: 'Read', input: { file_path: `${CWD}/src/file-${toolSeq}.ts` } }
            : { id, name: 'Bash', input: { command: `npm test -- file-${toolSeq}`, description: 'Run the tests' } };
        uses.push(use);
        emit(assistantRow(messageId, { type: 'tool_use', ...use }, 'tool_use'));
      }
      for (const use of uses) {
        toolCalls += 1;
        const isError = rand() < 0.05;
        let text;
        let toolUseResult;
        if (isError) {
          text = 'File does not exist. Note: your current working directory is /home/dev/project.';
          toolUseResult = `Error: ${text}`;
        } else if (use.name === 'Read') {
          // Half of the room left for this turn at most (the content is written twice).
          const room = Math.max(20 * 1024, Math.floor((turnEnd - bytes) / (2 * parallel)));
          text = fileText(Math.min(room, 20 * 1024 + Math.floor(rand() * 180 * 1024)));
          const numLines = text.split('\n').length;
          toolUseResult = {
            type: 'text',
            file: { filePath: use.input.file_path, content: text, numLines, startLine: 1, totalLines: numLines },
          };
        } else {
          text = fileText(100 + Math.floor(rand() * 4000));
          toolUseResult = { stdout: text, stderr: '', interrupted: false, isImage: false };
        }
        emit({
          ...common(uuidFrom(rand), tick(5 + Math.floor(rand() * 200))),
          promptId,
          type: 'user',
          message: {
            role: 'user',
            content: [{ tool_use_id: use.id, type: 'tool_result', content: text, ...(isError ? { is_error: true } : {}) }],
          },
          toolUseResult,
          sourceToolAssistantUUID: parentUuid,
        });
      }
    }
    const finalId = `msg_${String(++messageSeq).padStart(8, '0')}`;
    llmCalls += 1;
    emit(assistantRow(finalId, { type: 'text', text: `Done with turn ${t + 1}. \u2028 Summary: fixed ✅` }, 'end_turn'));
    emit({ type: 'last-prompt', lastPrompt: prompt, leafUuid: parentUuid, sessionId });
    lastTurn = { llmCalls, toolCalls };
  }
  flush();
  closeSync(fd);
  return {
    file,
    bytes,
    rows,
    turns: turnCount,
    sessionId,
    lastPrompt,
    lastTurn: { ...lastTurn, spans: 1 + lastTurn.llmCalls + lastTurn.toolCalls },
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const [out, mb, turns] = process.argv.slice(2);
  if (!out || !mb || Number.isNaN(Number(mb)) || (turns !== undefined && !(Number(turns) >= 1))) {
    process.stderr.write('usage: node bench/gen-transcript.mjs <out.jsonl> <MB> [turns]\n');
    process.exit(2);
  }
  const summary = generateTranscript(out, { megabytes: Number(mb), turns: turns === undefined ? undefined : Number(turns) });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
