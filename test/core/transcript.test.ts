/**
 * Transcript → trace, against transcripts recorded from the real Claude Code
 * 2.1.197 CLI (test/fixtures/transcripts/<scenario>/, driven by a fake
 * Anthropic API that reports 11 input / 7 output tokens per call), plus the
 * edge cases of prompt detection, capping and tool results.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  capStrings,
  MAX_NESTING,
  isUserPrompt,
  MAX_FIELD_CHARS,
  traceFromRows,
  traceIdFor,
  TurnBuilder,
  type TraceContext,
  type TranscriptRow,
} from '../../src/core/transcript.js';
import type { SpanModel, TraceModel } from '../../src/core/trace-model.js';
import { readJsonl } from '../helpers/fixtures.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const scenarioDir = (name: string): string => path.join(fixtures, 'transcripts', name);

/** What the fake API reports for every model call. */
const CALL_USAGE = {
  input_tokens: 11,
  output_tokens: 7,
  total_tokens: 18,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

function usageTimes(n: number) {
  return {
    input_tokens: 11 * n,
    output_tokens: 7 * n,
    total_tokens: 18 * n,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
}

interface StopInput {
  session_id: string;
  cwd: string;
  last_assistant_message: string;
  agent_id?: string;
  agent_type?: string;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function contextFor(stdin: StopInput): TraceContext {
  return { sessionId: stdin.session_id, cwd: stdin.cwd, user: 'dev' };
}

function mustBuild(rows: TranscriptRow[], context: TraceContext): TraceModel {
  const trace = traceFromRows(rows, context);
  if (!trace) throw new Error('expected a trace, got undefined');
  return trace;
}

/**
 * The distinct message ids of the assistant rows after the last prompt row,
 * worked out independently of TurnBuilder: a prompt row is a user row whose
 * content is a non-empty string (every prompt in these fixtures is one).
 */
function messageIdsOfLastTurn(rows: TranscriptRow[]): string[] {
  let start = -1;
  rows.forEach((row, i) => {
    if (row.type === 'user' && typeof row.message?.content === 'string' && !row.isMeta) start = i;
  });
  const ids: string[] = [];
  for (const row of rows.slice(start + 1)) {
    const id = row.message?.id;
    if (row.type === 'assistant' && id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

const llmSpans = (trace: TraceModel): SpanModel[] => trace.spans.filter((s) => s.name === 'llm');
const toolSpans = (trace: TraceModel): SpanModel[] => trace.spans.filter((s) => s.spanType === 'TOOL');

interface ToolExpectation {
  name: string;
  inputs: unknown;
  result: unknown;
  status: 'OK' | 'ERROR';
}

interface Scenario {
  name: string;
  /** Stop input file name inside the scenario folder. */
  stdin: string;
  prompt: string;
  response: string;
  /** Span names after the root, in order. */
  order: string[];
  tools: ToolExpectation[];
}

const READ_NOTES: ToolExpectation = {
  name: 'tool_Read',
  inputs: { file_path: '/home/dev/project/notes.txt' },
  result: '1\thello world\n2\t',
  status: 'OK',
};

const UNICODE_PROMPT =
  'Say hello in many scripts: \ud83d\udc4b\ud83c\udffd \u4f60\u597d \u3053\u3093\u306b\u3061\u306f ' +
  '\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \ud83d\udc69\u200d\ud83d\udcbb and a lone \u2028 line separator';
const UNICODE_RESPONSE =
  'Hello \ud83d\udc4b\ud83c\udffd! \u4f60\u597d\uff0c\u4e16\u754c\u3002\u3053\u3093\u306b\u3061\u306f\u3002' +
  '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 (RTL) \u2014 ' +
  '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd. \ud83d\udc69\u200d\ud83d\udcbb\ud83c\uddef\ud83c\uddf5' +
  '\u2028after the line separator: \u2705 done';

const SUBAGENT_RESULT = [
  { type: 'text', text: 'notes.txt contains: hello from the subagent test' },
  {
    type: 'text',
    text:
      "agentId: ab194b24f0da2848d (use SendMessage with to: 'ab194b24f0da2848d', summary: '<5-10 word recap>' to continue this agent)\n" +
      '<usage>subagent_tokens: 18\ntool_uses: 1\nduration_ms: 104</usage>',
  },
];

const scenarios: Scenario[] = [
  {
    name: 'read-tool',
    stdin: 'stop-stdin.json',
    prompt: 'read notes.txt',
    response: 'notes.txt says: hello world',
    order: ['llm', 'tool_Read', 'llm'],
    tools: [READ_NOTES],
  },
  {
    name: 'multi-turn',
    stdin: 'stop-stdin.json',
    prompt: 'now read notes.txt',
    response: 'notes.txt says: hello world',
    order: ['llm', 'tool_Read', 'llm'],
    tools: [READ_NOTES],
  },
  {
    name: 'multi-tool',
    stdin: 'stop-stdin.json',
    prompt: 'read a.txt and b.txt',
    response: 'a.txt says alpha and b.txt says bravo.',
    order: ['llm', 'tool_Read', 'tool_Read', 'llm'],
    tools: [
      { name: 'tool_Read', inputs: { file_path: '/home/dev/project/a.txt' }, result: '1\talpha\n2\t', status: 'OK' },
      { name: 'tool_Read', inputs: { file_path: '/home/dev/project/b.txt' }, result: '1\tbravo\n2\t', status: 'OK' },
    ],
  },
  {
    name: 'tool-error',
    stdin: 'stop-stdin.json',
    prompt: 'read missing.txt',
    response: 'missing.txt does not exist.',
    order: ['llm', 'tool_Read', 'llm'],
    tools: [
      {
        name: 'tool_Read',
        inputs: { file_path: '/home/dev/project/missing.txt' },
        result: 'File does not exist. Note: your current working directory is /home/dev/project.',
        status: 'ERROR',
      },
    ],
  },
  {
    name: 'unicode',
    stdin: 'stop-stdin.json',
    prompt: UNICODE_PROMPT,
    response: UNICODE_RESPONSE,
    order: ['llm'],
    tools: [],
  },
  {
    name: 'subagent',
    stdin: 'stop-stdin.json',
    prompt: 'use a subagent to read notes.txt',
    response: 'The subagent reports that notes.txt contains: hello from the subagent test',
    order: ['llm', 'tool_Agent', 'llm'],
    tools: [
      {
        name: 'tool_Agent',
        inputs: {
          description: 'Read notes.txt',
          prompt: 'Read /home/dev/project/notes.txt and report its content.',
          subagent_type: 'general-purpose',
        },
        result: SUBAGENT_RESULT,
        status: 'OK',
      },
    ],
  },
];

/** The assertions every Stop trace of a recorded scenario must meet. */
function checkScenario(s: Scenario): void {
  const load = async () => {
    const rows = (await readJsonl(path.join(scenarioDir(s.name), 'transcript.jsonl'))) as TranscriptRow[];
    const stdin = readJson<StopInput>(path.join(scenarioDir(s.name), s.stdin));
    return { rows, stdin, trace: mustBuild(rows, contextFor(stdin)) };
  };

  describe(`scenario ${s.name}`, () => {
    it('has an AGENT root with the real prompt and the final response', async () => {
      const { trace, stdin } = await load();
      const root = trace.spans[0]!;
      expect(root.name).toBe('claude_code_conversation');
      expect(root.spanType).toBe('AGENT');
      expect(root.parentSpanId).toBeUndefined();
      expect(root.status).toBe('OK');
      expect(root.inputs).toEqual({ prompt: s.prompt });
      expect(root.outputs).toEqual({ status: 'completed', response: s.response });
      // The response is what Claude Code itself handed the Stop hook.
      expect(s.response).toBe(stdin.last_assistant_message);
      expect(trace.requestPreview).toBe(s.prompt);
      expect(trace.responsePreview).toBe(s.response);
    });

    it('has llm and tool spans in order, all children of the root', async () => {
      const { trace, rows } = await load();
      const [root, ...children] = trace.spans;
      expect(children.map((c) => c.name)).toEqual(s.order);
      for (const child of children) {
        expect(child.parentSpanId).toBe(root!.spanId);
        expect(child.spanType).toBe(child.name === 'llm' ? 'LLM' : 'TOOL');
      }
      // One llm span per model call: per distinct message.id of the turn.
      expect(llmSpans(trace)).toHaveLength(messageIdsOfLastTurn(rows).length);
      // Ids are well-formed and unique.
      expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
      const ids = trace.spans.map((sp) => sp.spanId);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('gives every tool span its input, its result and its status', async () => {
      const { trace } = await load();
      const tools = toolSpans(trace);
      expect(
        tools.map((t) => ({ name: t.name, inputs: t.inputs, result: (t.outputs as { result: unknown }).result, status: t.status })),
      ).toEqual(s.tools);
      for (const tool of tools) {
        expect(tool.attributes.tool_name).toBe(tool.name.replace(/^tool_/, ''));
        expect(tool.attributes.tool_id).toMatch(/^toolu_/);
      }
    });

    it('counts token usage once per model call and sums it on the trace', async () => {
      const { trace } = await load();
      const llms = llmSpans(trace);
      for (const llm of llms) expect(llm.attributes['mlflow.chat.tokenUsage']).toEqual(CALL_USAGE);
      expect(trace.tokenUsage).toEqual(usageTimes(llms.length));
      expect(JSON.parse(trace.metadata['mlflow.trace.tokenUsage']!)).toEqual(usageTimes(llms.length));
    });

    it('writes the session, user, working directory and Claude Code version metadata', async () => {
      const { trace, stdin } = await load();
      expect(trace.metadata).toMatchObject({
        'mlflow.trace.session': stdin.session_id,
        'mlflow.trace.user': 'dev',
        'mlflow.trace.working_directory': '/home/dev/project',
        'mlflow.claude_code_version': '2.1.197',
      });
      expect(trace.spans[0]!.attributes['session.id']).toBe(stdin.session_id);
    });

    it('keeps every span inside the root span, start <= end', async () => {
      const { trace } = await load();
      const root = trace.spans[0]!;
      expect(root.startMs).toBeLessThanOrEqual(root.endMs);
      expect(trace.startMs).toBe(root.startMs);
      expect(trace.endMs).toBe(root.endMs);
      for (const span of trace.spans.slice(1)) {
        const where = `${span.name} [${span.startMs}, ${span.endMs}] in root [${root.startMs}, ${root.endMs}]`;
        expect(span.startMs, where).toBeLessThanOrEqual(span.endMs);
        expect(span.startMs, where).toBeGreaterThanOrEqual(root.startMs);
        expect(span.endMs, where).toBeLessThanOrEqual(root.endMs);
      }
    });

    it('puts the prompt exactly once in the first llm span input (queue enqueue + user row)', async () => {
      const { trace, rows } = await load();
      // The recording really has the prompt twice: as a queue enqueue and as the user row.
      expect(rows.filter((r) => r.type === 'queue-operation' && r.operation === 'enqueue' && r.content === s.prompt)).toHaveLength(1);
      const messages = (llmSpans(trace)[0]!.inputs as { messages: Array<{ role: string; content: unknown }> }).messages;
      expect(messages.filter((m) => m.role === 'user' && m.content === s.prompt)).toHaveLength(1);
      expect(messages.at(-1)).toEqual({ role: 'user', content: s.prompt });
    });

    it('has a stable trace id', async () => {
      const a = await load();
      const b = await load();
      expect(a.trace.traceId).toBe(b.trace.traceId);
      expect(a.trace.spans.map((sp) => sp.spanId)).toEqual(b.trace.spans.map((sp) => sp.spanId));
      expect(a.trace).toEqual(b.trace);
      // It is a function of the session and the turn, not of the host.
      expect(mustBuild(a.rows, { sessionId: 'other-session' }).traceId).not.toBe(a.trace.traceId);
    });
  });
}

for (const s of scenarios) checkScenario(s);

describe('multi-turn', () => {
  const dir = scenarioDir('multi-turn');

  /** The rows Claude Code had written when the first run's Stop hook fired. */
  async function firstRun() {
    const rows = (await readJsonl(path.join(dir, 'transcript.jsonl'))) as TranscriptRow[];
    const stdin = readJson<StopInput>(path.join(dir, 'stop-stdin-1.json'));
    const end = rows.findIndex(
      (r) => r.type === 'assistant' && JSON.stringify(r.message?.content).includes(JSON.stringify(stdin.last_assistant_message)),
    );
    expect(end).toBeGreaterThan(0);
    return { rows, prefix: rows.slice(0, end + 1), stdin };
  }

  it('traces the first turn from the first run prefix of the file', async () => {
    const { prefix, stdin } = await firstRun();
    const trace = mustBuild(prefix, contextFor(stdin));
    const root = trace.spans[0]!;
    expect(root.name).toBe('claude_code_conversation');
    expect(root.inputs).toEqual({ prompt: 'hi, who are you?' });
    expect(root.outputs).toEqual({ status: 'completed', response: 'Hi! I am Claude, ready to help.' });
    expect(trace.spans.slice(1).map((sp) => sp.name)).toEqual(['llm']);
    expect(llmSpans(trace)[0]!.attributes['mlflow.chat.tokenUsage']).toEqual(CALL_USAGE);
    expect(trace.tokenUsage).toEqual(usageTimes(1));
  });

  it('traces only the last turn of the whole file, under a different trace id', async () => {
    const { rows, prefix, stdin } = await firstRun();
    const first = mustBuild(prefix, contextFor(stdin));
    const last = mustBuild(rows, contextFor(stdin));
    expect(last.traceId).not.toBe(first.traceId);
    expect(last.metadata['mlflow.trace.session']).toBe(first.metadata['mlflow.trace.session']);
    // Nothing of the first turn leaks into the last one.
    const text = JSON.stringify(last);
    expect(text).not.toContain('hi, who are you?');
    expect(text).not.toContain('ready to help');
    expect(last.startMs).toBeGreaterThan(first.endMs);
    // Building the first turn again gives the same id.
    expect(mustBuild(prefix, contextFor(stdin)).traceId).toBe(first.traceId);
  });
});

describe('subagent', () => {
  const dir = scenarioDir('subagent');
  const agentFile = path.join(dir, 'agent-ab194b24f0da2848d.jsonl');

  async function subagentTrace(parentTraceId?: string) {
    const rows = (await readJsonl(agentFile)) as TranscriptRow[];
    const stdin = readJson<StopInput>(path.join(dir, 'subagent-stdin.json'));
    const context: TraceContext = {
      ...contextFor(stdin),
      agent: { id: stdin.agent_id!, type: stdin.agent_type, ...(parentTraceId ? { parentTraceId } : {}) },
    };
    return { rows, stdin, trace: mustBuild(rows, context) };
  }

  it('builds a claude_code_subagent trace from the agent transcript', async () => {
    const { trace, stdin } = await subagentTrace();
    const [root, ...children] = trace.spans;
    expect(root!.name).toBe('claude_code_subagent');
    expect(root!.spanType).toBe('AGENT');
    expect(root!.inputs).toEqual({ prompt: 'Read /home/dev/project/notes.txt and report its content.' });
    expect(root!.outputs).toEqual({ status: 'completed', response: stdin.last_assistant_message });
    expect(root!.attributes).toMatchObject({ agent_id: 'ab194b24f0da2848d', agent_type: 'general-purpose' });
    expect(children.map((c) => c.name)).toEqual(['llm', 'tool_Read', 'llm']);
    for (const child of children) expect(child.parentSpanId).toBe(root!.spanId);
    const tool = toolSpans(trace)[0]!;
    expect(tool.inputs).toEqual({ file_path: '/home/dev/project/notes.txt' });
    expect(tool.outputs).toEqual({ result: '1\thello from the subagent test\n2\t' });
    expect(trace.metadata).toMatchObject({
      'claude_code.agent_id': 'ab194b24f0da2848d',
      'claude_code.agent_type': 'general-purpose',
      'claude_code.session_id': stdin.session_id,
    });
    // Not a turn of the session in MLflow's session view.
    expect(trace.metadata['mlflow.trace.session']).toBeUndefined();
    expect(trace.metadata['claude_code.parent_trace_id']).toBeUndefined();
    expect(trace.tokenUsage).toEqual(usageTimes(2));
  });

  it('keeps the subagent spans inside its root', async () => {
    const { trace } = await subagentTrace();
    const root = trace.spans[0]!;
    for (const span of trace.spans.slice(1)) {
      expect(span.startMs).toBeLessThanOrEqual(span.endMs);
      expect(span.startMs).toBeGreaterThanOrEqual(root.startMs);
      expect(span.endMs).toBeLessThanOrEqual(root.endMs);
    }
  });

  it('has a trace id of its own, stable, linked to the main trace through parent_trace_id', async () => {
    const mainRows = (await readJsonl(path.join(dir, 'transcript.jsonl'))) as TranscriptRow[];
    const mainStdin = readJson<StopInput>(path.join(dir, 'stop-stdin.json'));
    const main = mustBuild(mainRows, contextFor(mainStdin));

    // How the hook links a subagent: the main transcript's turn in progress.
    const builder = new TurnBuilder();
    for (const row of mainRows) builder.push(row);
    const parentTraceId = `tr-${traceIdFor(mainStdin.session_id, builder.currentTurnKey()!)}`;
    expect(parentTraceId).toBe(`tr-${main.traceId}`);

    const a = await subagentTrace(parentTraceId);
    const b = await subagentTrace(parentTraceId);
    expect(a.trace.metadata['claude_code.parent_trace_id']).toBe(`tr-${main.traceId}`);
    expect(a.trace.traceId).toBe(b.trace.traceId);
    expect(a.trace.traceId).not.toBe(main.traceId);
  });

  it("shows the subagent as a tool_Agent span in the main transcript's Stop trace", async () => {
    const rows = (await readJsonl(path.join(dir, 'transcript.jsonl'))) as TranscriptRow[];
    const stdin = readJson<StopInput>(path.join(dir, 'stop-stdin.json'));
    const trace = mustBuild(rows, contextFor(stdin));
    const agentSpans = trace.spans.filter((sp) => sp.name === 'tool_Agent');
    expect(agentSpans).toHaveLength(1);
    expect(agentSpans[0]!.attributes.tool_name).toBe('Agent');
    expect(agentSpans[0]!.outputs).toEqual({ result: SUBAGENT_RESULT });
    // The subagent's own calls are not in the main trace.
    expect(trace.spans.filter((sp) => sp.name === 'tool_Read')).toHaveLength(0);
  });
});

describe('the shared 2.1.197 sample (input_tokens 42)', () => {
  it('builds the read-tool turn with its own usage numbers', async () => {
    const dir = path.join(fixtures, 'claude-code-2.1.197');
    const rows = (await readJsonl(path.join(dir, 'read-tool-session.jsonl'))) as TranscriptRow[];
    const stdin = readJson<StopInput>(path.join(dir, 'stop-hook-stdin.json'));
    const trace = mustBuild(rows, contextFor(stdin));
    expect(trace.spans.map((sp) => sp.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    expect(trace.spans[0]!.outputs).toEqual({ status: 'completed', response: stdin.last_assistant_message });
    const one = { input_tokens: 42, output_tokens: 7, total_tokens: 49, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
    for (const llm of llmSpans(trace)) expect(llm.attributes['mlflow.chat.tokenUsage']).toEqual(one);
    expect(trace.tokenUsage).toEqual({ ...one, input_tokens: 84, output_tokens: 14, total_tokens: 98 });
  });
});

// ---------------------------------------------------------------- edge cases

let clock = Date.parse('2026-01-01T00:00:00.000Z');
function at(): string {
  clock += 10;
  return new Date(clock).toISOString();
}
const user = (content: unknown, extra: Partial<TranscriptRow> = {}): TranscriptRow => ({
  type: 'user',
  uuid: `u-${clock}`,
  timestamp: at(),
  message: { role: 'user', content },
  ...extra,
});
const assistant = (id: string, block: Record<string, unknown>, usage = { input_tokens: 11, output_tokens: 7 }): TranscriptRow => ({
  type: 'assistant',
  uuid: `a-${clock}`,
  timestamp: at(),
  message: { id, role: 'assistant', model: 'claude-test', content: [block], usage },
});
const toolResult = (id: string, content: unknown, isError = false): TranscriptRow =>
  user([{ type: 'tool_result', tool_use_id: id, content, ...(isError ? { is_error: true } : {}) }], {
    toolUseResult: { stdout: String(content) },
  });
const ctx: TraceContext = { sessionId: 'edge-session' };

/** Unpaired UTF-16 surrogates: not valid Unicode, and replaced or rejected once encoded as UTF-8. */
function loneSurrogates(s: string): string[] {
  return s.match(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g) ?? [];
}

describe('edge cases', () => {
  it('returns undefined when there is no user prompt', () => {
    expect(traceFromRows([], ctx)).toBeUndefined();
    expect(
      traceFromRows(
        [
          { type: 'queue-operation', operation: 'dequeue', timestamp: at() },
          user('<local-command-stdout>hi</local-command-stdout>'),
          user('caveat', { isMeta: true }),
          assistant('m1', { type: 'text', text: 'hello' }),
        ],
        ctx,
      ),
    ).toBeUndefined();
  });

  it('does not take tool results, local command output, meta rows or empty rows for prompts', () => {
    expect(isUserPrompt(user('read notes.txt'))).toBe(true);
    expect(isUserPrompt(user([{ type: 'text', text: 'an array prompt' }]))).toBe(true);
    expect(isUserPrompt(user([{ type: 'tool_result', tool_use_id: 't1', content: 'x' }]))).toBe(false);
    expect(isUserPrompt(toolResult('t1', 'x'))).toBe(false);
    expect(isUserPrompt(user('ok', { toolUseResult: { stdout: 'x' } }))).toBe(false);
    expect(isUserPrompt(user('<local-command-stdout>total 0</local-command-stdout>'))).toBe(false);
    expect(isUserPrompt(user('Caveat: the messages below were generated by the user', { isMeta: true }))).toBe(false);
    expect(isUserPrompt(user('   '))).toBe(false);
    expect(isUserPrompt(user([]))).toBe(false);
    expect(isUserPrompt(assistant('m1', { type: 'text', text: 'hi' }))).toBe(false);
    // A skill's injected text follows a tool result that carries a commandName.
    expect(isUserPrompt(user('skill body'), { type: 'user', toolUseResult: { commandName: 'my-skill' } })).toBe(false);
  });

  it('keeps the turn of the last real prompt when tool results and command output follow it', () => {
    const trace = traceFromRows(
      [
        user('first prompt'),
        assistant('m1', { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } }),
        toolResult('t1', 'a\nb'),
        user('<local-command-stdout>x</local-command-stdout>'),
        user('meta', { isMeta: true }),
        assistant('m2', { type: 'text', text: 'done' }),
      ],
      ctx,
    )!;
    expect(trace.spans[0]!.inputs).toEqual({ prompt: 'first prompt' });
    expect(trace.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Bash', 'llm']);
  });

  it('puts a prompt logged as a queue enqueue and then as the user row only once in the llm input', () => {
    const trace = traceFromRows(
      [
        { type: 'queue-operation', operation: 'enqueue', timestamp: at(), content: 'say hi' },
        { type: 'queue-operation', operation: 'dequeue', timestamp: at() },
        user('say hi'),
        assistant('m1', { type: 'text', text: 'hi' }),
      ],
      ctx,
    )!;
    const messages = (llmSpans(trace)[0]!.inputs as { messages: unknown[] }).messages;
    expect(messages).toEqual([{ role: 'user', content: 'say hi' }]);
  });

  it('keeps a queued prompt that differs from the user row', () => {
    const trace = traceFromRows(
      [
        { type: 'queue-operation', operation: 'enqueue', timestamp: at(), content: 'typed ahead' },
        user('say hi'),
        assistant('m1', { type: 'text', text: 'hi' }),
      ],
      ctx,
    )!;
    const messages = (llmSpans(trace)[0]!.inputs as { messages: unknown[] }).messages;
    expect(messages).toEqual([
      { role: 'user', content: 'typed ahead' },
      { role: 'user', content: 'say hi' },
    ]);
  });

  it('counts usage once per message id, even when one response is split over several rows', () => {
    const usage = { input_tokens: 100, output_tokens: 50, cache_read_input_tokens: 3, cache_creation_input_tokens: 4 };
    const trace = traceFromRows(
      [
        user('go'),
        assistant('m1', { type: 'text', text: 'two tools' }, usage),
        assistant('m1', { type: 'tool_use', id: 't1', name: 'Read', input: { file_path: 'a' } }, usage),
        assistant('m1', { type: 'tool_use', id: 't2', name: 'Read', input: { file_path: 'b' } }, usage),
        toolResult('t1', 'A'),
        toolResult('t2', 'B'),
        assistant('m2', { type: 'text', text: 'done' }, usage),
      ],
      ctx,
    )!;
    const one = { input_tokens: 100, output_tokens: 50, total_tokens: 150, cache_read_input_tokens: 3, cache_creation_input_tokens: 4 };
    expect(llmSpans(trace).map((s) => s.attributes['mlflow.chat.tokenUsage'])).toEqual([one, one]);
    expect(trace.tokenUsage).toEqual({
      input_tokens: 200,
      output_tokens: 100,
      total_tokens: 300,
      cache_read_input_tokens: 6,
      cache_creation_input_tokens: 8,
    });
    // The one response's three blocks are the first llm span's output, in order.
    expect((llmSpans(trace)[0]!.outputs as { content: Array<{ type: string }> }).content.map((b) => b.type)).toEqual([
      'text',
      'tool_use',
      'tool_use',
    ]);
  });

  it('gives a tool_use without a result the output "No result found"', () => {
    const trace = traceFromRows(
      [user('go'), assistant('m1', { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'sleep 100' } })],
      ctx,
    )!;
    const tool = toolSpans(trace)[0]!;
    expect(tool.name).toBe('tool_Bash');
    expect(tool.outputs).toEqual({ result: 'No result found' });
    expect(tool.status).toBe('OK');
    expect(trace.spans[0]!.outputs).toEqual({ status: 'completed' });
  });

  it('marks a tool result with is_error as an ERROR span with the error text', () => {
    const trace = traceFromRows(
      [
        user('go'),
        assistant('m1', { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'false' } }),
        toolResult('t1', 'Exit code 1', true),
        assistant('m2', { type: 'text', text: 'it failed' }),
      ],
      ctx,
    )!;
    const tool = toolSpans(trace)[0]!;
    expect(tool.status).toBe('ERROR');
    expect(tool.statusMessage).toBe('Exit code 1');
    expect(tool.outputs).toEqual({ result: 'Exit code 1' });
  });

  it('gives different turns different trace ids, and the same turn the same id', () => {
    const rows = [user('one'), assistant('m1', { type: 'text', text: 'a' }), user('two'), assistant('m2', { type: 'text', text: 'b' })];
    const first = traceFromRows(rows.slice(0, 2), ctx)!;
    const second = traceFromRows(rows, ctx)!;
    expect(first.traceId).not.toBe(second.traceId);
    expect(traceFromRows(rows, ctx)!.traceId).toBe(second.traceId);
    expect(traceIdFor('s', 'k')).toBe(traceIdFor('s', 'k'));
    expect(traceIdFor('s', 'k')).not.toBe(traceIdFor('s', 'k2'));
    expect(traceIdFor('s', 'k')).not.toBe(traceIdFor('s2', 'k'));
  });

  it('capStrings truncates a 300k string to the cap with a marker, deep inside values', () => {
    const big = 'x'.repeat(300_000);
    const capped = capStrings(big) as string;
    expect(capped.startsWith('x'.repeat(MAX_FIELD_CHARS))).toBe(true);
    expect(capped.slice(MAX_FIELD_CHARS)).toBe('… [truncated 200000 characters]');
    const nested = capStrings({ a: [{ b: big }], n: 1, t: true, z: null }) as { a: Array<{ b: string }>; n: number; t: boolean; z: null };
    expect(nested.a[0]!.b).toBe(capped);
    expect(nested).toMatchObject({ n: 1, t: true, z: null });
    // Short strings are untouched, custom caps apply.
    expect(capStrings('short')).toBe('short');
    expect(capStrings('abcdef', 3)).toBe('abc… [truncated 3 characters]');
  });

  it('capStrings cuts what is nested deeper than MAX_NESTING levels (200,000 levels would overflow the stack)', () => {
    const deep = JSON.parse(`${'['.repeat(200_000)}"x"${']'.repeat(200_000)}`);
    const capped = capStrings({ content: deep });
    expect(() => JSON.stringify(capped)).not.toThrow();
    let level: unknown = (capped as { content: unknown }).content;
    let depth = 1;
    while (Array.isArray(level)) {
      level = level[0];
      depth += 1;
    }
    expect(depth).toBe(MAX_NESTING);
    expect(level).toBe(`[cut: nested more than ${MAX_NESTING} levels deep]`);
    // Shallow values are kept whole.
    expect(capStrings({ a: [[[1, 'b']]] })).toEqual({ a: [[[1, 'b']]] });
  });

  it('caps a huge prompt and a huge tool result in the trace', () => {
    const big = 'y'.repeat(300_000);
    const trace = traceFromRows(
      [user(big), assistant('m1', { type: 'tool_use', id: 't1', name: 'Read', input: {} }), toolResult('t1', big)],
      ctx,
    )!;
    const prompt = (trace.spans[0]!.inputs as { prompt: string }).prompt;
    expect(prompt.length).toBeLessThan(MAX_FIELD_CHARS + 100);
    const result = (toolSpans(trace)[0]!.outputs as { result: string }).result;
    expect(result.length).toBeLessThan(MAX_FIELD_CHARS + 100);
    expect(result).toContain('[truncated 200000 characters]');
    expect(trace.requestPreview).toBe('y'.repeat(1000));
  });

  it('does not start the first llm span before the prompt, when an earlier-stamped row sits between them', () => {
    // Claude Code 2.1.197 writes `attachment` rows after the prompt row but
    // stamped 1–3 ms before it (see the read-tool fixture).
    const trace = traceFromRows(
      [
        { type: 'user', uuid: 'p', timestamp: '2026-01-01T00:00:00.100Z', message: { role: 'user', content: 'go' } },
        { type: 'attachment', uuid: 'att', timestamp: '2026-01-01T00:00:00.099Z' },
        {
          type: 'assistant',
          uuid: 'a',
          timestamp: '2026-01-01T00:00:00.150Z',
          message: { id: 'm1', role: 'assistant', content: [{ type: 'text', text: 'hi' }] },
        },
      ],
      ctx,
    )!;
    const [root, llm] = trace.spans;
    expect(root!.startMs).toBe(Date.parse('2026-01-01T00:00:00.100Z'));
    expect(llm!.startMs).toBeGreaterThanOrEqual(root!.startMs);
  });

  it('does not cut a surrogate pair in half when capping or previewing', () => {
    // 'a' then emoji: every cut at an even index lands inside a pair.
    const text = 'a' + '\ud83d\ude00'.repeat(60_000);
    expect(loneSurrogates(capStrings(text) as string)).toEqual([]);
    const trace = traceFromRows([user(text), assistant('m1', { type: 'text', text })], ctx)!;
    expect(loneSurrogates(trace.requestPreview)).toEqual([]);
    expect(loneSurrogates(trace.responsePreview)).toEqual([]);
  });
});
