/**
 * Append one turn that runs `agents` foreground subagents to a transcript,
 * as Claude Code 2.1.197 lays them out: the Agent calls in one response,
 * each subagent's own transcript (`callsPerAgent` Read calls of 10 KB) and
 * `.meta.json` in `<project dir>/<session>/subagents/`, the results, and a
 * final answer. Returns the Stop hook's stdin for that turn.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @param {string} transcript
 * @param {string} sessionId
 */
export function appendSubagentTurn(transcript, sessionId, { agents = 10, callsPerAgent = 4, cwd = '/home/dev/project' } = {}) {
  let clock = Date.parse('2026-11-30T09:00:00.000Z');
  const ts = () => new Date((clock += 40)).toISOString();
  const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 5_000 };
  const model = 'claude-opus-4-8';
  const dir = path.join(path.dirname(transcript), sessionId, 'subagents');
  mkdirSync(dir, { recursive: true });
  const main = [];
  main.push({
    type: 'user',
    uuid: 'fan-out-prompt',
    sessionId,
    timestamp: ts(),
    message: { role: 'user', content: `run ${agents} subagents` },
  });
  const uses = Array.from({ length: agents }, (_, i) => ({
    type: 'tool_use',
    id: `toolu_fan_${i}`,
    name: 'Agent',
    input: { description: `part ${i}`, prompt: `Read part ${i}.`, subagent_type: 'general-purpose' },
  }));
  for (const use of uses)
    main.push({
      type: 'assistant',
      uuid: `fan-${use.id}`,
      sessionId,
      timestamp: ts(),
      message: { id: 'msg_fan', role: 'assistant', model, content: [use], usage },
    });
  for (const [i, use] of uses.entries()) {
    const agentId = `a${String(i).padStart(16, '0')}`;
    /** @type {object[]} */
    const rows = [
      {
        type: 'user',
        uuid: `${agentId}-p`,
        sessionId,
        isSidechain: true,
        timestamp: ts(),
        message: { role: 'user', content: `Read part ${i}.` },
      },
    ];
    for (let c = 0; c < callsPerAgent; c++) {
      const id = `toolu_${agentId}_${c}`;
      rows.push({
        type: 'assistant',
        uuid: `${id}-a`,
        sessionId,
        timestamp: ts(),
        message: {
          id: `msg_${id}`,
          role: 'assistant',
          model,
          content: [{ type: 'tool_use', id, name: 'Read', input: { file_path: `${cwd}/part-${i}-${c}.txt` } }],
          usage,
        },
      });
      rows.push({
        type: 'user',
        uuid: `${id}-r`,
        sessionId,
        timestamp: ts(),
        message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'x'.repeat(10 * 1024) }] },
      });
    }
    rows.push({
      type: 'assistant',
      uuid: `${agentId}-f`,
      sessionId,
      timestamp: ts(),
      message: { id: `msg_${agentId}_f`, role: 'assistant', model, content: [{ type: 'text', text: `part ${i} read` }], usage },
    });
    writeFileSync(path.join(dir, `agent-${agentId}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(
      path.join(dir, `agent-${agentId}.meta.json`),
      JSON.stringify({ agentType: 'general-purpose', description: `part ${i}`, toolUseId: use.id, spawnDepth: 1 }),
    );
    main.push({
      type: 'user',
      uuid: `fan-r-${i}`,
      sessionId,
      timestamp: ts(),
      message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: `part ${i} read` }] },
    });
  }
  const answer = `all ${agents} parts read`;
  main.push({
    type: 'assistant',
    uuid: 'fan-final',
    sessionId,
    timestamp: ts(),
    message: { id: 'msg_fan_final', role: 'assistant', model, content: [{ type: 'text', text: answer }], usage },
  });
  appendFileSync(transcript, main.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return JSON.stringify({
    session_id: sessionId,
    transcript_path: transcript,
    cwd,
    hook_event_name: 'Stop',
    last_assistant_message: answer,
  });
}
