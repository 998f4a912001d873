/**
 * Claude Code can fire Stop or SubagentStop a moment before the last
 * assistant message reaches the transcript file (seen with a subagent under
 * load). The hook input carries that message (`last_assistant_message`): the
 * hook reads the file again until it shows it, up to 400 ms, then traces
 * what the file holds and says so in its log.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeHookEnv } from '../helpers/hook-env.js';
import { searchTraces } from '../helpers/mlflow-server.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { sampleWithSession } from '../helpers/fixtures.js';
import { useServerAndTmp } from '../helpers/server-and-tmp.js';

const shared = useServerAndTmp();

/** The sample session with its last line (the final assistant message) held back. */
function heldBack(name: string, session: string): { stdin: string; transcript: string; lastLine: string; data: string } {
  const dir = path.join(shared.tmp.path, name);
  mkdirSync(dir);
  const { stdin, transcript } = sampleWithSession(dir, session);
  const lines = readFileSync(transcript, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const last = lines.findLastIndex((l) => l.includes('The file says hello. Done.'));
  expect(last).toBeGreaterThan(0);
  writeFileSync(transcript, `${lines.filter((_, i) => i !== last).join('\n')}\n`);
  return { stdin, transcript, lastLine: `${lines[last]}\n`, data: path.join(dir, 'data') };
}

const env = (data: string, experiment: string): Record<string, string> =>
  makeHookEnv({ home: shared.tmp.path, dataRoot: data, trackingUri: shared.server.url, experiment });

describe('the last assistant message arrives after the hook started', () => {
  it('the hook waits for it and traces the whole turn', async () => {
    const s = heldBack('late', '00000000-0000-4000-9000-00000000c001');
    const hook = runHookProcess(s.stdin, env(s.data, 'catch-up'));
    // Well after the hook has read the file once (node starts in ~60 ms), well within its 400 ms.
    setTimeout(() => appendFileSync(s.transcript, s.lastLine), 300);
    const result = await hook;
    expect(result.exitCode).toBe(0);
    const [trace] = await searchTraces(shared.server, 'catch-up');
    expect(trace!.info.response_preview).toBe('The file says hello. Done.');
    expect(trace!.spans.map((x) => x.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    const log = path.join(s.data, 'logs', 'hook.log');
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
  });

  it('never arriving: after 400 ms the hook traces what the file holds, and logs it', async () => {
    const s = heldBack('never', '00000000-0000-4000-9000-00000000c002');
    const result = await runHookProcess(s.stdin, env(s.data, 'catch-up-never'));
    expect(result.exitCode).toBe(0);
    expect(result.wallMs).toBeLessThan(2000);
    const [trace] = await searchTraces(shared.server, 'catch-up-never');
    expect(trace!.spans.map((x) => x.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read']);
    expect(readFileSync(path.join(s.data, 'logs', 'hook.log'), 'utf8')).toContain(
      'the transcript did not show the last assistant message within 400 ms; traced what it holds',
    );
  });
});
