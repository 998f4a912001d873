/**
 * End to end: the real Claude Code CLI, offline against the fake Messages
 * API, runs our hook from the project's `.claude/settings.json`, and the
 * trace lands in a real MLflow server.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClaude } from '../helpers/claude-cli.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { searchTraces } from '../helpers/mlflow-server.js';
import { printHookCommand, writeTracingSettings } from '../helpers/project-settings.js';
import { useServerAndTmp } from '../helpers/server-and-tmp.js';

const shared = useServerAndTmp();

async function project(name: string, experiment: string) {
  const root = path.join(shared.tmp.path, name);
  const home = path.join(root, 'home');
  const dir = path.join(root, 'project');
  const data = path.join(root, 'data');
  await mkdir(home, { recursive: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'notes.txt'), 'hello from the e2e test\n');
  await writeTracingSettings(dir, await printHookCommand(data), {
    MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
    MLFLOW_TRACKING_URI: shared.server.url,
    MLFLOW_EXPERIMENT_NAME: experiment,
  });
  return { home, dir, data };
}

describe('real Claude Code → our hook → real MLflow', () => {
  it('traces a session with a Read tool round trip', async () => {
    const p = await project('read', 'e2e-read');
    const fake = await startFakeAnthropic([
      { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: path.join(p.dir, 'notes.txt') } } },
      { text: 'notes.txt says: hello from the e2e test' },
    ]);
    try {
      const run = await runClaude({
        cwd: p.dir,
        home: p.home,
        baseUrl: fake.url,
        prompt: 'read notes.txt',
        args: ['--allowedTools', 'Read'],
        env: { CLAUDE_MLFLOW_HOME: p.data },
      });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain('hello from the e2e test');
    } finally {
      await fake.close();
    }

    const traces = await searchTraces(shared.server, 'e2e-read');
    expect(traces).toHaveLength(1);
    const trace = traces[0]!;
    expect(trace.info.request_preview).toBe('read notes.txt');
    expect(trace.info.trace_metadata['mlflow.trace.working_directory']).toBe(p.dir);
    expect(trace.info.trace_metadata['mlflow.claude_code_version']).toBe('2.1.197');
    const names = trace.spans.map((s) => s.name);
    expect(names).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    const tool = trace.spans.find((s) => s.name === 'tool_Read')!;
    expect(tool.span_type).toBe('TOOL');
    expect(tool.inputs).toEqual({ file_path: path.join(p.dir, 'notes.txt') });
    expect(JSON.stringify(tool.outputs)).toContain('hello from the e2e test');
    expect(trace.spans[0]!.outputs.response).toBe('notes.txt says: hello from the e2e test');
    // Two model calls, each 11 in / 7 out on the fake API.
    expect(JSON.parse(trace.info.trace_metadata['mlflow.trace.tokenUsage']!)).toMatchObject({
      input_tokens: 22,
      output_tokens: 14,
    });
  });

  it('traces a subagent run on its own, linked to the session and its parent turn', async () => {
    const p = await project('subagent', 'e2e-subagent');
    const notes = path.join(p.dir, 'notes.txt');
    const fake = await startFakeAnthropic([
      {
        text: 'I will delegate this.',
        toolUse: {
          name: 'Agent',
          input: { description: 'Read notes.txt', prompt: `Read ${notes} and report it.`, subagent_type: 'general-purpose' },
        },
      },
      { toolUse: { name: 'Read', input: { file_path: notes } } },
      { text: 'It says hello from the e2e test.' },
      { text: 'The subagent says: hello from the e2e test' },
    ]);
    try {
      const run = await runClaude({
        cwd: p.dir,
        home: p.home,
        baseUrl: fake.url,
        prompt: 'use a subagent to read notes.txt',
        args: ['--allowedTools', 'Read,Agent'],
        env: { CLAUDE_MLFLOW_HOME: p.data },
      });
      expect(run.exitCode, run.stderr).toBe(0);
    } finally {
      await fake.close();
    }

    const traces = await searchTraces(shared.server, 'e2e-subagent');
    expect(traces).toHaveLength(2);
    const main = traces.find((t) => t.spans[0]!.name === 'claude_code_conversation')!;
    const sub = traces.find((t) => t.spans[0]!.name === 'claude_code_subagent')!;
    expect(main.spans.map((s) => s.name)).toContain('tool_Agent');
    expect(sub.spans.map((s) => s.name)).toEqual(['claude_code_subagent', 'llm', 'tool_Read', 'llm']);
    expect(sub.info.trace_metadata['mlflow.trace.session']).toBe(main.info.trace_metadata['mlflow.trace.session']);
    expect(sub.info.trace_metadata['claude_code.agent_type']).toBe('general-purpose');
    expect(sub.info.trace_metadata['claude_code.parent_trace_id']).toBe(main.info.trace_id);
    expect(sub.spans[0]!.inputs.prompt).toContain('Read');
  });
});
