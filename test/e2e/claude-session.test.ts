/**
 * End to end: the real Claude Code CLI, offline against the fake Messages
 * API, runs our hook from the project's `.claude/settings.json`, and the
 * trace lands in a real MLflow server.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { secretCorpus } from '../helpers/secrets-corpus.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClaude, runClaudeStreaming } from '../helpers/claude-cli.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { searchTraces, sessionTurns } from '../helpers/mlflow-server.js';
import { printHookCommand, writeTracingSettings } from '../helpers/project-settings.js';
import { useServerAndTmp, type ServerAndTmp } from '../helpers/server-and-tmp.js';
import { defaultVenvBin } from '../helpers/venv.js';
import { DEFAULT_MLFLOW_VERSION } from '../../src/core/mlflow-versions.js';

const shared = useServerAndTmp();

/** The background-subagent case runs on the MLflow `init` installs by default too: what its Sessions view counts as a turn. */
const onDefault = useServerAndTmp({ mlflowBin: defaultVenvBin('mlflow') });

async function project(name: string, experiment: string, on: ServerAndTmp = shared) {
  const root = path.join(on.tmp.path, name);
  const home = path.join(root, 'home');
  const dir = path.join(root, 'project');
  const data = path.join(root, 'data');
  await mkdir(home, { recursive: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'notes.txt'), 'hello from the e2e test\n');
  await writeTracingSettings(dir, await printHookCommand(data), {
    MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
    MLFLOW_TRACKING_URI: on.server.url,
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

  it('nests a foreground subagent in its turn: one trace, the AGENT span under the Agent tool span, every token counted', async () => {
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
    expect(traces).toHaveLength(1);
    const [turn] = traces;
    expect(turn!.spans[0]!.name).toBe('claude_code_conversation');
    const tool = turn!.spans.find((s) => s.name === 'tool_Agent')!;
    const agent = turn!.spans.find((s) => s.name === 'subagent_general-purpose')!;
    expect(agent.span_type).toBe('AGENT');
    expect(agent.parent_id).toBe(tool.span_id);
    expect(agent.inputs.prompt).toContain('Read');
    const inside = turn!.spans.filter((s) => s.parent_id === agent.span_id);
    expect(inside.map((s) => s.name)).toEqual(['llm', 'tool_Read', 'llm']);
    expect(JSON.stringify(inside.find((s) => s.name === 'tool_Read')!.outputs)).toContain('hello from the e2e test');
    // Four model calls on the fake API (two of the turn, two of the subagent), each 11 in / 7 out.
    const llms = turn!.spans.filter((s) => s.name === 'llm');
    expect(llms).toHaveLength(4);
    expect(JSON.parse(turn!.info.trace_metadata['mlflow.trace.tokenUsage']!)).toMatchObject({ input_tokens: 44, output_tokens: 28 });
    // MLflow's own session API sees one session of one turn.
    expect(Object.values(await sessionTurns(shared.server, 'e2e-subagent'))).toEqual([1]);
  });

  it('a turn that an API error ends (StopFailure): one trace, ERROR, with the error', async () => {
    const p = await project('stop-failure', 'e2e-stop-failure');
    const fake = await startFakeAnthropic([
      { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: path.join(p.dir, 'notes.txt') } } },
      { error: { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 250000 tokens > 200000 maximum' } },
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
      expect(run.exitCode, run.stderr + run.stdout).not.toBe(0);
    } finally {
      await fake.close();
    }
    const traces = await searchTraces(shared.server, 'e2e-stop-failure');
    expect(traces).toHaveLength(1);
    const [trace] = traces;
    expect(trace!.info.state).toBe('ERROR');
    const root = trace!.spans[0]!;
    expect(root.status).toContain('ERROR');
    expect(root.outputs.status).toBe('error');
    expect(JSON.stringify(root.outputs.error)).toContain('prompt is too long');
    // The call the API refused is an llm span of its own, failed, with what Claude Code showed.
    expect(trace!.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    const refused = trace!.spans.at(-1)!;
    expect(refused.status).toContain('ERROR');
    expect(refused.attributes['mlflow.chat.tokenUsage']).toBeUndefined();
    expect(JSON.parse(trace!.info.trace_metadata['mlflow.trace.tokenUsage']!)).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    expect(trace!.info.trace_metadata['claude_code.models']).not.toContain('synthetic');
  });

  it('a turn the user stops (no Stop for it) is traced at the next turn’s Stop, marked interrupted', async () => {
    const p = await project('interrupted', 'e2e-interrupted');
    const fake = await startFakeAnthropic([
      { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: path.join(p.dir, 'notes.txt') } } },
      { text: 'notes.txt says: hello from the e2e test', delayMs: 5_000 },
      { text: 'Hi!' },
    ]);
    try {
      const run = await runClaudeStreaming({
        cwd: p.dir,
        home: p.home,
        baseUrl: fake.url,
        steps: [
          { prompt: 'read notes.txt' },
          { until: () => fake.served >= 2 },
          { interrupt: true },
          { prompt: 'never mind, just say hi' },
        ],
        args: ['--allowedTools', 'Read'],
        env: { CLAUDE_MLFLOW_HOME: p.data },
      });
      expect(run.exitCode, run.stderr).toBe(0);
    } finally {
      await fake.close();
    }
    const traces = await searchTraces(shared.server, 'e2e-interrupted');
    expect(traces).toHaveLength(2);
    const stopped = traces.find((t) => t.spans[0]!.inputs.prompt === 'read notes.txt')!;
    const next = traces.find((t) => t.spans[0]!.inputs.prompt === 'never mind, just say hi')!;
    expect(stopped.spans[0]!.outputs.status).toBe('interrupted');
    expect(stopped.info.trace_metadata['claude_code.turn_status']).toBe('interrupted');
    expect(next.spans[0]!.outputs).toMatchObject({ status: 'completed', response: 'Hi!' });
  });

  it('a session that ends on a turn the user stopped: SessionEnd traces it, marked interrupted', async () => {
    const p = await project('interrupted-last', 'e2e-interrupted-last');
    const fake = await startFakeAnthropic([
      { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: path.join(p.dir, 'notes.txt') } } },
      { text: 'notes.txt says: hello from the e2e test', delayMs: 5_000 },
    ]);
    try {
      const run = await runClaudeStreaming({
        cwd: p.dir,
        home: p.home,
        baseUrl: fake.url,
        steps: [{ prompt: 'read notes.txt' }, { until: () => fake.served >= 2 }, { interrupt: true }],
        args: ['--allowedTools', 'Read'],
        env: { CLAUDE_MLFLOW_HOME: p.data },
      });
      // The stopped turn's result is an error result: claude exits 1.
      expect(run.timedOut, run.stderr).toBe(false);
    } finally {
      await fake.close();
    }
    const traces = await searchTraces(shared.server, 'e2e-interrupted-last');
    expect(traces).toHaveLength(1);
    expect(traces[0]!.spans[0]!.inputs.prompt).toBe('read notes.txt');
    expect(traces[0]!.info.trace_metadata['claude_code.turn_status']).toBe('interrupted');
  });

  it('a subagent in the background: the turn is one trace in the session (the same trace again after the task notification), the run a trace of its own outside it', () =>
    backgroundSubagent(shared));

  it('a session that reads a file of secrets: the trace MLflow holds has none of them, and every ordinary line', async () => {
    const p = await project('secrets', 'e2e-secrets');
    const secrets = secretCorpus();
    const lines = Object.entries(secrets)
      .filter(([k]) => k !== 'pem-private-key' && k !== 'mlflow-password-in-env')
      .map(([k, v]) => `${k.toUpperCase().replace(/-/g, '_')}_SECRET=${v}`);
    const ordinary = ['# deployment settings', 'REGION=eu-west-1', 'REPLICAS=3'];
    const file = path.join(p.dir, 'secrets.env');
    await writeFile(file, [...ordinary, ...lines, secrets['pem-private-key']].join('\n') + '\n');
    const fake = await startFakeAnthropic([
      { text: 'Reading it.', toolUse: { name: 'Read', input: { file_path: file } } },
      { text: `Done. The GitHub token is ${secrets['github-classic-pat']}.` },
    ]);
    try {
      const run = await runClaude({
        cwd: p.dir,
        home: p.home,
        baseUrl: fake.url,
        prompt: `read secrets.env; my key is ${secrets['anthropic-api-key']}`,
        args: ['--allowedTools', 'Read'],
        env: { CLAUDE_MLFLOW_HOME: p.data },
      });
      expect(run.exitCode, run.stderr).toBe(0);
    } finally {
      await fake.close();
    }
    const [trace] = await searchTraces(shared.server, 'e2e-secrets');
    const whole = JSON.stringify(trace);
    const leaked = Object.entries(secrets).filter(
      ([k, v]) =>
        k !== 'mlflow-password-in-env' &&
        v.split('\n').some((l) => l.length >= 8 && !l.startsWith('-----') && whole.includes(JSON.stringify(l).slice(1, -1))),
    );
    expect(leaked.map(([k]) => k)).toEqual([]);
    for (const line of ordinary) expect(whole).toContain(line);
    expect(whole).toContain('[REDACTED:');
    expect(JSON.stringify(trace!.spans.find((s) => s.name === 'tool_Read')!.outputs)).toContain('REGION=eu-west-1');
  });
});

/**
 * A subagent run in the background: the turn is one trace in its session,
 * and the run a trace of its own outside it, linked both ways. The server's
 * own MLflow counts the session's turns.
 */
async function backgroundSubagent(on: ServerAndTmp): Promise<void> {
  const p = await project('background', 'e2e-background', on);
  const notes = path.join(p.dir, 'notes.txt');
  const fake = await startFakeAnthropic((rec) => {
    const messages = (rec.body?.messages ?? []) as Array<{ content: unknown }>;
    const first = JSON.stringify(messages[0]?.content ?? '');
    const results = messages
      .flatMap((m) => (Array.isArray(m.content) ? m.content : []))
      .filter((b: { type?: string }) => b.type === 'tool_result');
    if (first.includes(`Read ${notes} and report`)) {
      return results.length === 0
        ? { toolUse: { name: 'Read', input: { file_path: notes } }, delayMs: 300 }
        : { text: 'notes.txt contains: hello from the e2e test', delayMs: 300 };
    }
    if (results.length === 0) {
      return {
        text: 'Starting a background subagent.',
        toolUse: {
          name: 'Agent',
          input: {
            description: 'Read notes.txt',
            prompt: `Read ${notes} and report its content.`,
            subagent_type: 'general-purpose',
            run_in_background: true,
          },
        },
      };
    }
    if (JSON.stringify(messages).includes('<task-notification>'))
      return { text: 'The background subagent has finished: hello from the e2e test.' };
    return { text: 'The background subagent is on it.' };
  });
  try {
    const run = await runClaude({
      cwd: p.dir,
      home: p.home,
      baseUrl: fake.url,
      prompt: 'read notes.txt in the background',
      args: ['--allowedTools', 'Read,Agent'],
      env: { CLAUDE_MLFLOW_HOME: p.data },
    });
    expect(run.exitCode, run.stderr).toBe(0);
  } finally {
    await fake.close();
  }
  const traces = await searchTraces(on.server, 'e2e-background');
  expect(traces).toHaveLength(2);
  const inSession = traces.filter((t) => t.info.trace_metadata['mlflow.trace.session']);
  expect(inSession).toHaveLength(1);
  const [turn] = inSession;
  expect(turn!.spans[0]!.inputs.prompt).toBe('read notes.txt in the background');
  // The task notification made the model answer again, in the same turn: the same trace, sent again, with that call.
  expect(turn!.spans.filter((s) => s.name === 'llm')).toHaveLength(3);
  expect(turn!.spans[0]!.outputs.response).toBe('The background subagent has finished: hello from the e2e test.');
  const run = traces.find((t) => t !== turn)!;
  expect(run.spans[0]!.name).toBe('claude_code_subagent');
  expect(run.info.trace_metadata['claude_code.parent_trace_id']).toBe(turn!.info.trace_id);
  expect(turn!.spans.find((s) => s.name === 'tool_Agent')!.attributes['claude_code.subagent_trace_id']).toBe(run.info.trace_id);
  expect(Object.values(await sessionTurns(on.server, 'e2e-background'))).toEqual([1]);
}

describe(`the same on MLflow ${DEFAULT_MLFLOW_VERSION}, the version init installs by default`, () => {
  it('a subagent in the background: the turn is one trace in the session (the same trace again after the task notification), the run a trace of its own outside it', () =>
    backgroundSubagent(onDefault));
});
