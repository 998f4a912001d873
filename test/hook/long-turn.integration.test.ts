/**
 * A long agentic turn: one prompt, 1,000 Read calls of 10 KB each. Each LLM
 * span holds only the messages new to its call, so the trace grows with the
 * turn, not with its square: traced within the hook's cap, in bounded memory,
 * stored at about twice the turn's size (each result is in its tool span and
 * in the next call's input).
 */
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopDelivery } from '../helpers/delivery.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { runHookMeasured } from '../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { readSpool } from '../../src/adapters/spool.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await stopDelivery(path.join(tmp.path, 'data'));
  await tmp?.cleanup();
});

const CALLS = 1000;
const RESULT_BYTES = 10 * 1024;

function longTurn(file: string): void {
  const rows: unknown[] = [];
  let t = Date.parse('2026-11-30T10:00:00Z');
  const ts = (): string => new Date((t += 50)).toISOString();
  const sessionId = 'long-turn';
  rows.push({ type: 'user', uuid: 'p', sessionId, timestamp: ts(), message: { role: 'user', content: 'read all the files' } });
  for (let i = 0; i < CALLS; i++) {
    rows.push({
      type: 'assistant',
      uuid: `a${i}`,
      sessionId,
      timestamp: ts(),
      message: {
        id: `msg_${i}`,
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'tool_use', id: `tu_${i}`, name: 'Read', input: { file_path: `/p/f${i}.txt` } }],
        usage: { input_tokens: 10, output_tokens: 5 },
      },
    });
    rows.push({
      type: 'user',
      uuid: `r${i}`,
      sessionId,
      timestamp: ts(),
      message: {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: `tu_${i}`, content: `file ${i}: ${'x'.repeat(RESULT_BYTES)}` }],
      },
    });
  }
  rows.push({
    type: 'assistant',
    uuid: 'final',
    sessionId,
    timestamp: ts(),
    message: {
      id: 'msg_final',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'done reading' }],
      usage: { input_tokens: 10, output_tokens: 5 },
    },
  });
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

describe('a turn with 1,000 tool calls of 10 KB', () => {
  it('is traced within the cap, in bounded memory, at about twice its size; each llm span holds what is new to its call', async () => {
    const transcript = path.join(tmp.path, 'long.jsonl');
    longTurn(transcript);
    const data = path.join(tmp.path, 'data');
    const stdin = JSON.stringify({
      session_id: 'long-turn',
      transcript_path: transcript,
      cwd: '/p',
      hook_event_name: 'Stop',
      last_assistant_message: 'done reading',
    });
    const result = await runHookMeasured(
      stdin,
      makeHookEnv({ home: tmp.path, dataRoot: data, trackingUri: 'http://127.0.0.1:9' }),
      tmp.path,
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.wallMs).toBeLessThan(2000);
    const peakMb = result.peakRssMb;

    const [entry] = readSpool(path.join(data, 'spool')).entries;
    const stored = statSync(entry!.file).size;
    const turnBytes = statSync(transcript).size;
    console.log(
      `1,000-call turn (${(turnBytes / 1e6).toFixed(1)} MB): hook ${Math.round(result.wallMs)} ms, peak RSS ${peakMb.toFixed(0)} MB, stored ${(stored / 1e6).toFixed(1)} MB (${(stored / turnBytes).toFixed(2)}x)`,
    );
    expect(peakMb).toBeLessThan(150);
    expect(stored / turnBytes).toBeLessThan(2.1);

    const spans = entry!.record.trace.spans;
    const llms = spans.filter((s) => s.spanType === 'LLM');
    expect(llms).toHaveLength(CALLS + 1);
    expect(spans.filter((s) => s.spanType === 'TOOL')).toHaveLength(CALLS);
    const inputs = llms.map((s) => (s.inputs as { messages: Array<{ role: string; content: unknown }> }).messages);
    expect(inputs[0]).toEqual([{ role: 'user', content: 'read all the files' }]);
    for (const [i, messages] of inputs.slice(1).entries()) {
      expect(messages).toHaveLength(1);
      expect(JSON.stringify(messages[0]!.content)).toContain(`"tool_use_id":"tu_${i}"`);
    }
  });
});
