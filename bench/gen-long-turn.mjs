/**
 * One long agentic turn, as test/hook/long-turn.integration.test.ts builds
 * it: a prompt, then `calls` Read calls whose results are `resultBytes`
 * each, then a final answer. Returns the hook's stdin for it.
 */
import { writeFileSync } from 'node:fs';

/** @param {string} file */
export function generateLongTurn(file, { calls = 1000, resultBytes = 10 * 1024, sessionId = 'long-turn', cwd = '/p' } = {}) {
  const rows = [];
  let t = Date.parse('2026-11-30T10:00:00Z');
  const ts = () => new Date((t += 50)).toISOString();
  const usage = { input_tokens: 10, output_tokens: 5 };
  rows.push({ type: 'user', uuid: 'p', sessionId, timestamp: ts(), message: { role: 'user', content: 'read all the files' } });
  for (let i = 0; i < calls; i++) {
    const use = { type: 'tool_use', id: `tu_${i}`, name: 'Read', input: { file_path: `/p/f${i}.txt` } };
    rows.push({
      type: 'assistant',
      uuid: `a${i}`,
      sessionId,
      timestamp: ts(),
      message: { id: `msg_${i}`, role: 'assistant', model: 'claude-sonnet-4-5', content: [use], usage },
    });
    const result = { type: 'tool_result', tool_use_id: `tu_${i}`, content: `file ${i}: ${'x'.repeat(resultBytes)}` };
    rows.push({ type: 'user', uuid: `r${i}`, sessionId, timestamp: ts(), message: { role: 'user', content: [result] } });
  }
  const answer = { type: 'text', text: 'done reading' };
  rows.push({
    type: 'assistant',
    uuid: 'final',
    sessionId,
    timestamp: ts(),
    message: { id: 'msg_final', role: 'assistant', model: 'claude-sonnet-4-5', content: [answer], usage },
  });
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return JSON.stringify({
    session_id: sessionId,
    transcript_path: file,
    cwd,
    hook_event_name: 'Stop',
    last_assistant_message: 'done reading',
  });
}
