/**
 * Foreground subagents nested in the turn's trace, on the recorded real
 * transcript (test/fixtures/transcripts/subagent), laid out as Claude Code
 * lays it out: `<project>/<session>.jsonl` and
 * `<project>/<session>/subagents/agent-<id>.jsonl` with its `.meta.json`.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpanModel, TraceModel } from '../../src/core/trace-model.js';
import { stoppedTurnsAtSessionEnd, traceOfTurn, type HookInput } from '../../src/services/turn-trace.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { repoRoot } from '../helpers/venv.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'transcripts');
const FIXTURE = path.join(FIXTURES, 'subagent');
const AGENT = 'ab194b24f0da2848d';

let tmp: TempDir;
let transcript: string;
let subagents: string;
let stopInput: HookInput;
let subagentInput: HookInput;

beforeEach(async () => {
  tmp = await makeTempDir();
  const stop = JSON.parse(readFileSync(path.join(FIXTURE, 'stop-stdin.json'), 'utf8')) as HookInput;
  const project = path.join(tmp.path, 'projects', '-home-dev-project');
  transcript = path.join(project, `${stop.session_id}.jsonl`);
  subagents = path.join(project, stop.session_id!, 'subagents');
  mkdirSync(subagents, { recursive: true });
  copyFileSync(path.join(FIXTURE, 'transcript.jsonl'), transcript);
  for (const ext of ['jsonl', 'meta.json'])
    copyFileSync(path.join(FIXTURE, `agent-${AGENT}.${ext}`), path.join(subagents, `agent-${AGENT}.${ext}`));
  stopInput = { ...stop, transcript_path: transcript };
  const sub = JSON.parse(readFileSync(path.join(FIXTURE, 'subagent-stdin.json'), 'utf8')) as HookInput;
  subagentInput = { ...sub, transcript_path: transcript, agent_transcript_path: path.join(subagents, `agent-${AGENT}.jsonl`) };
});
afterEach(async () => {
  await tmp.cleanup();
});

const options = { started: Date.now(), catchUpMs: 0, log: () => undefined };

async function traceOf(input: HookInput): Promise<TraceModel> {
  const traced = await traceOfTurn(input, { USER: 'dev' }, options);
  if (typeof traced === 'string' || 'elsewhere' in traced || 'notYet' in traced) throw new Error(`no trace: ${JSON.stringify(traced)}`);
  return traced.trace;
}

const byName = (trace: TraceModel, name: string): SpanModel[] => trace.spans.filter((s) => s.name === name);

/** The sum of every llm span's token usage. */
function llmUsage(trace: TraceModel): { input_tokens: number; output_tokens: number } {
  const sum = { input_tokens: 0, output_tokens: 0 };
  for (const span of byName(trace, 'llm')) {
    const usage = span.attributes['mlflow.chat.tokenUsage'] as { input_tokens: number; output_tokens: number } | undefined;
    if (!usage) continue;
    sum.input_tokens += usage.input_tokens;
    sum.output_tokens += usage.output_tokens;
  }
  return sum;
}

/** Rewrite the parent transcript's Agent call so that it runs in the background. */
function agentCallInBackground(): void {
  const rows = readFileSync(transcript, 'utf8')
    .split('\n')
    .map((line) => line.replace('"name":"Agent","input":{', '"name":"Agent","input":{"run_in_background":true,'));
  writeFileSync(transcript, rows.join('\n'));
}

describe('a foreground subagent', () => {
  it('is nested in the turn: an AGENT span under the Agent tool span, holding its own spans, its tokens in the turn', async () => {
    const trace = await traceOf(stopInput);
    const [tool] = byName(trace, 'tool_Agent');
    const [agent] = byName(trace, 'subagent_general-purpose');
    expect(agent!.spanType).toBe('AGENT');
    expect(agent!.parentSpanId).toBe(tool!.spanId);
    expect(agent!.inputs).toEqual({
      prompt: 'Read /home/dev/project/notes.txt and report its content.',
      description: 'Read notes.txt',
      subagent_type: 'general-purpose',
    });
    expect(agent!.attributes).toMatchObject({ subagent_type: 'general-purpose', agent_id: 'ab194b24f0da2848d' });
    const inside = trace.spans.filter((s) => s.parentSpanId === agent!.spanId);
    expect(inside.map((s) => s.name)).toEqual(['llm', 'tool_Read', 'llm']);
    for (const span of inside) {
      expect(span.startMs).toBeGreaterThanOrEqual(tool!.startMs);
      expect(span.endMs).toBeLessThanOrEqual(tool!.endMs);
    }
    expect(new Set(trace.spans.map((s) => s.spanId)).size).toBe(trace.spans.length);
    expect(trace.tokenUsage).toMatchObject(llmUsage(trace));
    expect(JSON.parse(trace.metadata['mlflow.trace.tokenUsage']!)).toMatchObject(llmUsage(trace));
    expect(byName(trace, 'llm')).toHaveLength(4);
    expect(trace.metadata).toMatchObject({ 'mlflow.trace.permission_mode': 'default', 'claude_code.models': 'claude-opus-4-8' });
    // Every call priced (the subagent's too), and the trace's cost is their sum.
    const costs = byName(trace, 'llm').map((s) => (s.attributes['mlflow.llm.cost'] as { total_cost: number }).total_cost);
    expect(costs).toHaveLength(4);
    expect(JSON.parse(trace.metadata['mlflow.trace.cost']!).total_cost).toBeCloseTo(
      costs.reduce((a, b) => a + b, 0),
      12,
    );
  });

  it('gives no trace of its own at SubagentStop, whichever of SubagentStop and Stop comes first', async () => {
    const first = await traceOfTurn(subagentInput, { USER: 'dev' }, options);
    expect(first).toMatchObject({ elsewhere: expect.stringContaining('foreground') });
    const turn = await traceOf(stopInput);
    expect(await traceOfTurn(subagentInput, { USER: 'dev' }, options)).toMatchObject({
      elsewhere: expect.stringContaining(`tr-${turn.traceId}`),
    });
  });

  it('a run never nests in itself, even when its meta says so', async () => {
    writeFileSync(
      path.join(subagents, `agent-${AGENT}.meta.json`),
      JSON.stringify({ agentType: 'general-purpose', toolUseId: 'toolu_fake_2' }),
    );
    const trace = await traceOf(stopInput);
    expect(byName(trace, 'subagent_general-purpose')).toEqual([]);
  });

  it('that starts a subagent itself has it nested under its own tool span', async () => {
    // A second run, started by the first one's Read call: nested one level further down.
    const inner = 'b0000000000000001';
    const innerRows = readFileSync(path.join(subagents, `agent-${AGENT}.jsonl`), 'utf8').replaceAll('toolu_fake_2', 'toolu_inner_2');
    writeFileSync(path.join(subagents, `agent-${inner}.jsonl`), innerRows);
    writeFileSync(
      path.join(subagents, `agent-${inner}.meta.json`),
      JSON.stringify({ agentType: 'Explore', toolUseId: 'toolu_fake_2', spawnDepth: 2 }),
    );
    const trace = await traceOf(stopInput);
    const [outer] = byName(trace, 'subagent_general-purpose');
    const [nested] = byName(trace, 'subagent_Explore');
    const readInOuter = trace.spans.find((s) => s.name === 'tool_Read' && s.parentSpanId === outer!.spanId)!;
    expect(nested!.parentSpanId).toBe(readInOuter.spanId);
    expect(trace.spans.filter((s) => s.parentSpanId === nested!.spanId).map((s) => s.name)).toEqual(['llm', 'tool_Read', 'llm']);
    expect(byName(trace, 'llm')).toHaveLength(6);
    expect(trace.tokenUsage).toMatchObject(llmUsage(trace));
  });
});

describe('a background subagent (run_in_background)', () => {
  it('is not nested in the turn, and gets a trace of its own linked to it', async () => {
    agentCallInBackground();
    const turn = await traceOf(stopInput);
    expect(byName(turn, 'subagent_general-purpose')).toEqual([]);
    expect(byName(turn, 'tool_Agent')[0]!.inputs).toMatchObject({ run_in_background: true });
    const own = await traceOf(subagentInput);
    expect(own.spans[0]!.name).toBe('claude_code_subagent');
    expect(own.metadata['claude_code.parent_trace_id']).toBe(`tr-${turn.traceId}`);
  });
});

/** A recorded fixture laid out as Claude Code lays it out; the hook inputs pointed at it. */
function layout(name: string): { inputs: Record<string, HookInput> } {
  const from = path.join(FIXTURES, name);
  const files = readdirSync(from);
  const inputs: Record<string, HookInput> = {};
  const first = JSON.parse(
    readFileSync(path.join(from, files.find((f) => f.endsWith('-stdin.json') || f.includes('-stdin-'))!), 'utf8'),
  ) as HookInput;
  const project = path.join(tmp.path, name, '-home-dev-project');
  const main = path.join(project, `${first.session_id}.jsonl`);
  const agents = path.join(project, first.session_id!, 'subagents');
  mkdirSync(agents, { recursive: true });
  copyFileSync(path.join(from, 'transcript.jsonl'), main);
  for (const f of files.filter((f) => f.startsWith('agent-'))) copyFileSync(path.join(from, f), path.join(agents, f));
  for (const f of files.filter((f) => f.includes('stdin'))) {
    const input = JSON.parse(readFileSync(path.join(from, f), 'utf8')) as HookInput;
    inputs[f.replace(/\.json$/, '')] = {
      ...input,
      transcript_path: main,
      ...(input.agent_id ? { agent_transcript_path: path.join(agents, `agent-${input.agent_id}.jsonl`) } : {}),
    };
  }
  return { inputs };
}

describe('recorded: two subagents in one turn', () => {
  it('each nested under its own Agent tool span; the turn counts all six model calls; neither SubagentStop traces', async () => {
    const { inputs } = layout('two-subagents');
    const trace = await traceOf(inputs['stop-stdin']!);
    const tools = byName(trace, 'tool_Agent');
    const agents = byName(trace, 'subagent_general-purpose');
    expect(tools).toHaveLength(2);
    expect(agents.map((a) => a.parentSpanId).sort()).toEqual(tools.map((t) => t.spanId).sort());
    for (const agent of agents) {
      const inside = trace.spans.filter((s) => s.parentSpanId === agent.spanId);
      expect(inside.map((s) => s.name)).toEqual(['llm', 'tool_Read', 'llm']);
    }
    expect(byName(trace, 'llm')).toHaveLength(6);
    expect(trace.tokenUsage).toMatchObject(llmUsage(trace));
    for (const key of ['subagent-stdin-1', 'subagent-stdin-2']) {
      expect(await traceOfTurn(inputs[key]!, { USER: 'dev' }, options)).toMatchObject({ elsewhere: expect.stringContaining('foreground') });
    }
  });
});

describe('recorded: a turn an API error ends (StopFailure)', () => {
  it('is an ERROR trace with the error; the refused call is a failed llm span that spent nothing', async () => {
    const { inputs } = layout('stop-failure');
    const trace = await traceOf(inputs['stop-failure-stdin']!);
    const root = trace.spans[0]!;
    expect(root.status).toBe('ERROR');
    expect(root.statusMessage).toContain('invalid_request: 400');
    expect(root.statusMessage).toContain('prompt is too long');
    expect(root.outputs).toMatchObject({ status: 'error', response: 'Prompt is too long' });
    expect(trace.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    const refused = trace.spans.at(-1)!;
    expect(refused).toMatchObject({ status: 'ERROR', statusMessage: 'Prompt is too long' });
    expect(refused.attributes['mlflow.chat.tokenUsage']).toBeUndefined();
    expect(trace.tokenUsage).toMatchObject(llmUsage(trace));
  });
});

describe('recorded: a compaction inside the session', () => {
  it('the turn after /compact is traced from its own prompt; the compaction itself is no turn', async () => {
    const { inputs } = layout('compaction');
    const trace = await traceOf(inputs['stop-stdin']!);
    expect(trace.spans[0]!.inputs).toEqual({ prompt: 'what did notes.txt say?' });
    expect(trace.spans[0]!.outputs).toMatchObject({ response: 'It said: hello world' });
    expect(await traceOfTurn(inputs['subagent-stdin']!, { USER: 'dev' }, options)).toMatchObject({
      elsewhere: expect.stringContaining('compaction'),
    });
  });

  it('a compaction in the middle of a turn keeps the turn whole: its prompt, every call and tool', async () => {
    const { inputs } = layout('compaction');
    const file = inputs['stop-stdin']!.transcript_path!;
    const rows = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, any>);
    const boundary = rows.filter((r) => r.subtype === 'compact_boundary' || r.isCompactSummary === true);
    expect(boundary).toHaveLength(2);
    // The first turn only, with the compaction's rows put between the tool result and the answer.
    const firstTurn = rows.slice(
      0,
      rows.findIndex((r) => r.type === 'last-prompt'),
    );
    const answer = firstTurn.findLastIndex((r) => r.type === 'assistant');
    const midTurn = [...firstTurn.slice(0, answer), ...boundary, ...firstTurn.slice(answer)];
    writeFileSync(file, `${midTurn.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const trace = await traceOf({ ...inputs['stop-stdin']!, last_assistant_message: 'notes.txt says: hello world' });
    expect(trace.spans[0]!.inputs).toEqual({ prompt: 'read notes.txt' });
    expect(trace.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    expect(trace.spans[0]!.outputs).toMatchObject({ response: 'notes.txt says: hello world' });
  });
});

describe('recorded: a turn the user stopped, then another', () => {
  it('the Stop of the next turn traces the stopped one too, marked interrupted, and only once', async () => {
    const { inputs } = layout('interrupted');
    const traced = await traceOfTurn(inputs['stop-stdin']!, { USER: 'dev' }, options);
    if (typeof traced === 'string' || 'elsewhere' in traced || 'notYet' in traced) throw new Error(String(traced));
    expect(traced.trace.spans[0]!.inputs).toEqual({ prompt: 'never mind, just say hi' });
    expect(traced.trace.spans[0]!.outputs).toMatchObject({ status: 'completed', response: 'Hi!' });
    expect(traced.interrupted).toHaveLength(1);
    const [stopped] = traced.interrupted;
    expect(stopped!.spans[0]!.inputs).toEqual({ prompt: 'read notes.txt' });
    expect(stopped!.spans[0]!.outputs).toMatchObject({ status: 'interrupted' });
    expect(stopped!.metadata['claude_code.turn_status']).toBe('interrupted');
    expect(stopped!.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read']);
    expect(stopped!.traceId).not.toBe(traced.trace.traceId);
    expect(traced.trace.metadata['claude_code.turn_status']).toBeUndefined();

    // One more turn that ends on its own: its Stop traces it alone (the stopped one was traced already).
    const file = inputs['stop-stdin']!.transcript_path!;
    const rows = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, any>);
    const lastTurn = rows.slice(rows.findIndex((r) => r.type === 'user' && r.message?.content === 'never mind, just say hi'));
    const again = lastTurn.map((r) => ({ ...r, ...(r.uuid ? { uuid: `${r.uuid}-again` } : {}) }));
    writeFileSync(file, `${[...rows, ...again].map((r) => JSON.stringify(r)).join('\n')}\n`);
    const next = await traceOfTurn(inputs['stop-stdin']!, { USER: 'dev' }, options);
    if (typeof next === 'string' || 'elsewhere' in next || 'notYet' in next) throw new Error(String(next));
    expect(next.interrupted).toEqual([]);
    expect(next.trace.traceId).not.toBe(traced.trace.traceId);
  });
});

describe('recorded: the session ends on a turn the user stopped', () => {
  it('SessionEnd traces it, marked interrupted; a session whose last turn ended on its own gives nothing', async () => {
    const { inputs } = layout('interrupted');
    const sessionEnd = { ...inputs['stop-stdin']!, hook_event_name: 'SessionEnd' };
    expect(await stoppedTurnsAtSessionEnd(sessionEnd, { USER: 'dev' }, options)).toEqual([]);
    const file = sessionEnd.transcript_path!;
    const rows = readFileSync(file, 'utf8').trim().split('\n');
    const cut = rows.findIndex((line) => line.includes('[Request interrupted by user'));
    writeFileSync(file, `${rows.slice(0, cut + 1).join('\n')}\n`);
    const stopped = await stoppedTurnsAtSessionEnd(sessionEnd, { USER: 'dev' }, options);
    expect(stopped).toHaveLength(1);
    expect(stopped[0]!.spans[0]!.inputs).toEqual({ prompt: 'read notes.txt' });
    expect(stopped[0]!.metadata['claude_code.turn_status']).toBe('interrupted');
  });
});

describe('recorded: a subagent that starts a subagent', () => {
  it('nests two levels deep: the inner run under the outer run’s Agent tool span; no SubagentStop traces on its own', async () => {
    const { inputs } = layout('nested-subagent');
    const trace = await traceOf(inputs['stop-stdin']!);
    const agents = byName(trace, 'subagent_general-purpose');
    expect(agents).toHaveLength(2);
    const mainTool = trace.spans.find((s) => s.name === 'tool_Agent' && s.parentSpanId === trace.spans[0]!.spanId)!;
    const outer = agents.find((a) => a.parentSpanId === mainTool.spanId)!;
    const outerTool = trace.spans.find((s) => s.name === 'tool_Agent' && s.parentSpanId === outer.spanId)!;
    const inner = agents.find((a) => a.parentSpanId === outerTool.spanId)!;
    expect(trace.spans.filter((s) => s.parentSpanId === inner.spanId).map((s) => s.name)).toEqual(['llm', 'tool_Read', 'llm']);
    expect(byName(trace, 'llm')).toHaveLength(6);
    expect(trace.tokenUsage).toMatchObject(llmUsage(trace));
    for (const key of ['subagent-stdin-1', 'subagent-stdin-2']) {
      expect(await traceOfTurn(inputs[key]!, { USER: 'dev' }, options)).toMatchObject({ elsewhere: expect.stringContaining('foreground') });
    }
  });
});

describe('recorded: a subagent started in the background', () => {
  it('is not nested; the task notification that ends it is no user prompt, so the turn stays one; the run is traced on its own, outside the session view', async () => {
    const { inputs } = layout('background-subagent');
    const first = await traceOf(inputs['stop-stdin-1']!);
    const last = await traceOf(inputs['stop-stdin']!);
    // The second Stop (after the notification) traces the same turn, with the answer it gave then.
    expect(last.traceId).toBe(first.traceId);
    expect(last.spans[0]!.inputs).toEqual({ prompt: 'read notes.txt in the background' });
    expect(byName(last, 'subagent_general-purpose')).toEqual([]);
    expect(byName(last, 'llm')).toHaveLength(3);
    const own = await traceOf(inputs['subagent-stdin']!);
    expect(own.spans[0]!.name).toBe('claude_code_subagent');
    // The Agent tool span that started it names its trace.
    expect(byName(last, 'tool_Agent')[0]!.attributes['claude_code.subagent_trace_id']).toBe(`tr-${own.traceId}`);
    expect(own.metadata['claude_code.parent_trace_id']).toBe(`tr-${first.traceId}`);
    expect(own.metadata['mlflow.trace.session']).toBeUndefined();
    expect(own.metadata['claude_code.session_id']).toBe(inputs['stop-stdin']!.session_id);
  });
});

describe('recorded: a Skill', () => {
  it('names the Skill on its own tool span and on every call made under it; its body is no prompt', async () => {
    const { inputs } = layout('skill');
    const trace = await traceOf(inputs['stop-stdin']!);
    expect(trace.spans[0]!.inputs).toEqual({ prompt: 'greet me' });
    expect(trace.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Skill', 'llm', 'tool_Read', 'llm']);
    const skillOf = (s: SpanModel): unknown => s.attributes['mlflow.skill.name'];
    expect(trace.spans.map(skillOf)).toEqual([undefined, undefined, 'greet', 'greet', 'greet', 'greet']);
  });
});
