/**
 * The hook under hostile input, as Claude Code runs it: for each case it
 * exits 0 within its cap, prints nothing to stdout and no stack trace, stays
 * in bounded memory, and traces what it can.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSpool } from '../../src/adapters/spool.js';
import { stopDelivery } from '../helpers/delivery.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { runHookMeasured } from '../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
const dataRoots: string[] = [];
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  for (const data of dataRoots) await stopDelivery(data);
  await tmp?.cleanup();
});

const row = (r: object): string => JSON.stringify(r);
const PROMPT = row({ type: 'user', uuid: 'p', timestamp: '2026-11-30T10:00:00.000Z', message: { role: 'user', content: 'the prompt' } });
const ANSWER = row({
  type: 'assistant',
  uuid: 'a',
  timestamp: '2026-11-30T10:00:01.000Z',
  message: {
    id: 'm',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [{ type: 'text', text: 'the answer' }],
    usage: { input_tokens: 1, output_tokens: 1 },
  },
});

type Outcome = 'traced' | 'refused';
const cases: Array<[string, (dir: string) => string, Outcome]> = [
  [
    'a FIFO',
    (dir) => {
      const fifo = path.join(dir, 'fifo.jsonl');
      execFileSync('mkfifo', [fifo]);
      return fifo;
    },
    'refused',
  ],
  ['/dev/zero', () => '/dev/zero', 'refused'],
  [
    'a directory',
    (dir) => {
      mkdirSync(path.join(dir, 'folder.jsonl'));
      return path.join(dir, 'folder.jsonl');
    },
    'refused',
  ],
  [
    'invalid UTF-8',
    (dir) => {
      const file = path.join(dir, 'latin1.jsonl');
      const bad = Buffer.concat([
        Buffer.from('{"type":"user","uuid":"x","message":{"role":"user","content":"caf'),
        Buffer.from([0xe9, 0xff, 0xfe]),
        Buffer.from('"}}\n'),
      ]);
      writeFileSync(file, Buffer.concat([bad, Buffer.from(`${PROMPT}\n${ANSWER}\n`)]));
      return file;
    },
    'traced',
  ],
  [
    'a 300 MB single line',
    (dir) => {
      const file = path.join(dir, 'huge-line.jsonl');
      const fd = openSync(file, 'w');
      writeSync(fd, `${PROMPT}\n{"type":"user","message":{"role":"user","content":"`);
      const block = Buffer.alloc(16 * 1024 * 1024, 'z');
      for (let i = 0; i < 19; i++) writeSync(fd, block);
      writeSync(fd, `"}}\n${ANSWER}\n`);
      closeSync(fd);
      return file;
    },
    'traced',
  ],
  [
    '200,000-deep nesting',
    (dir) => {
      const file = path.join(dir, 'deep.jsonl');
      const deep = `${'['.repeat(200_000)}"x"${']'.repeat(200_000)}`;
      const tool = row({
        type: 'assistant',
        uuid: 't',
        timestamp: '2026-11-30T10:00:00.500Z',
        message: {
          id: 'mt',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [{ type: 'tool_use', id: 'tu', name: 'Read', input: {} }],
        },
      });
      const result = `{"type":"user","uuid":"r","timestamp":"2026-11-30T10:00:00.700Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu","content":${deep}}]}}`;
      writeFileSync(file, `${PROMPT}\n${tool}\n${result}\n${ANSWER}\n`);
      return file;
    },
    'traced',
  ],
];

describe('the hook under hostile input', () => {
  it.each(cases)('%s', async (label, make, outcome) => {
    const dir = path.join(tmp.path, label.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(dir, { recursive: true });
    const data = path.join(dir, 'data');
    dataRoots.push(data);
    const transcript = make(dir);
    const stdin = JSON.stringify({
      session_id: `s-${dir.length}`,
      transcript_path: transcript,
      cwd: dir,
      hook_event_name: 'Stop',
      last_assistant_message: 'the answer',
    });
    const result = await runHookMeasured(stdin, makeHookEnv({ home: dir, dataRoot: data, trackingUri: 'http://127.0.0.1:9' }), dir);
    console.log(`${label}: exit ${result.exitCode}, ${Math.round(result.wallMs)} ms, peak RSS ${result.peakRssMb.toFixed(0)} MB`);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('');
    expect(result.wallMs).toBeLessThan(2000);
    expect(result.peakRssMb).toBeLessThan(150);
    let log = '';
    try {
      log = readFileSync(path.join(data, 'logs', 'hook.log'), 'utf8');
    } catch {
      // nothing logged
    }
    expect(log).not.toMatch(/\n\s+at \S+/);
    const spooled = readSpool(path.join(data, 'spool')).entries;
    if (outcome === 'refused') {
      expect(spooled).toEqual([]);
      expect(log).toMatch(/transcript is not a regular file/);
    } else {
      expect(spooled).toHaveLength(1);
      const root = spooled[0]!.record.trace.spans[0]!;
      expect(root.outputs).toMatchObject({ response: 'the answer' });
    }
  });
});
