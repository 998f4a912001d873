/**
 * Claude Code transcript (JSONL rows) → the span tree of one turn.
 *
 * The rows are pushed one at a time, so a transcript of any size is read in
 * bounded memory: only the turn being built is kept, and every text field is
 * capped. The shape follows MLflow's own Claude Code integration
 * (mlflow/claude_code/tracing.py, 3.11–3.12): an AGENT root
 * `claude_code_conversation`, `llm` spans and `tool_<Name>` spans under it.
 * Where we differ on purpose, `test/core/differential.test.ts` lists it.
 */
import { createHash } from 'node:crypto';
import { costOf, LLM_COST_ATTRIBUTE } from './cost.js';
import { isObject } from './is-object.js';
import type { SpanModel, TokenUsage, TraceModel } from './trace-model.js';

/** A transcript row, loosely typed: Claude Code adds fields freely. */
export interface TranscriptRow {
  type?: string;
  uuid?: string;
  timestamp?: string;
  isMeta?: boolean;
  /** The summary that replaces the conversation after a compaction. */
  isCompactSummary?: boolean;
  /** Where a user row came from when no one typed it, e.g. `{ kind: 'task-notification' }`. */
  origin?: { kind?: unknown };
  version?: string;
  operation?: string;
  content?: unknown;
  toolUseResult?: unknown;
  message?: {
    id?: string;
    role?: string;
    model?: string;
    content?: unknown;
    usage?: Record<string, unknown>;
  };
}

interface ContentBlock {
  type?: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

export interface TraceContext {
  sessionId: string;
  /** The working directory of the session (the hook's `cwd`). */
  cwd?: string;
  user?: string;
  /** The machine the session ran on: a shared experiment stays readable per person and host. */
  host?: string;
  /** Set for a subagent run (SubagentStop). */
  agent?: { id: string; type?: string; parentTraceId?: string };
}

/** Longest text kept in one field; MLflow's preview is 1,000 characters. */
export const MAX_FIELD_CHARS = 100_000;
const MAX_PREVIEW_CHARS = 1_000;
/** Input messages kept for an LLM span: the newest ones. */
const MAX_INPUT_MESSAGES = 200;
const NO_RESULT = 'No result found';
/** The model Claude Code names on the assistant message it writes for an API error. */
export const SYNTHETIC_MODEL = '<synthetic>';

interface ModelCall {
  messageId: string;
  model: string;
  startMs: number;
  endMs: number;
  inputMessages: unknown[];
  content: ContentBlock[];
  usage?: Record<string, unknown>;
  toolUses: Array<{ block: ContentBlock; startMs: number; skill?: string }>;
  /** The Skill in force when the call was made. */
  skill?: string;
}

interface ToolOutcome {
  result: unknown;
  isError: boolean;
  endMs: number;
  /** A Skill tool call: the Skill it launched. */
  skill?: string;
}

interface Turn {
  promptKey: string;
  prompt: string;
  startMs: number;
  lastMs: number;
  calls: ModelCall[];
  results: Map<string, ToolOutcome>;
  finalResponse?: string;
  /** The user stopped the turn (Esc, Ctrl-C, an SDK interrupt): Claude Code fires no Stop for it. */
  interrupted?: boolean;
  /** The Skill launched last in the turn: the calls after it run under it. */
  activeSkill?: string;
}

/** What Claude Code writes, as a user row or a tool result, when the user stops a turn. */
export const INTERRUPT_MARKER = '[Request interrupted by user';
/** Interrupted turns kept for the next Stop to trace; older ones are dropped. */
const MAX_INTERRUPTED_TURNS = 5;

/** The Skill a tool result launched (Claude Code's `toolUseResult.commandName`), if any. */
function skillLaunchedBy(row: TranscriptRow): string | undefined {
  const result = row.toolUseResult;
  if (!isBlock(result)) return undefined;
  const name = (result as Record<string, unknown>).commandName;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** The span attribute MLflow's own integration names the Skill with. */
export const SKILL_ATTRIBUTE = 'mlflow.skill.name';

function skillAttribute(skill: string | undefined): Record<string, string> {
  return skill ? { [SKILL_ATTRIBUTE]: skill } : {};
}

/** Whether a row is Claude Code's note that the user stopped the turn. */
export function isInterruption(row: TranscriptRow): boolean {
  if (row.type !== 'user') return false;
  return blocksOf(row.message?.content).some((block) => {
    if (block.type === 'text') return (block.text ?? '').startsWith(INTERRUPT_MARKER);
    return block.type === 'tool_result' && textOf(block.content).startsWith(INTERRUPT_MARKER);
  });
}

export function parseTimestampMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (value < 1e10) return value * 1000;
    if (value < 1e13) return value;
    return Math.floor(value / 1e6);
  }
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .filter((p): p is ContentBlock => isBlock(p) && p.type === 'text')
      .map((p) => p.text ?? '')
      .join('\n');
  }
  return content === undefined || content === null ? '' : String(content);
}

function isBlock(value: unknown): value is ContentBlock {
  return isObject(value);
}

function blocksOf(content: unknown): ContentBlock[] {
  if (Array.isArray(content)) return content.filter(isBlock);
  if (typeof content === 'string' && content !== '') return [{ type: 'text', text: content }];
  return [];
}

/**
 * Whether the trace already ends with the turn's last assistant message, as
 * the hook input gives it (`last_assistant_message`). Claude Code can fire
 * the hook a moment before that message reaches the transcript file (seen
 * with subagents under load); then the hook reads the file again.
 */
export function hasLastMessage(trace: TraceModel, lastMessage: string | undefined): boolean {
  const norm = (text: string): string => text.replace(/\s+/g, ' ').trim();
  const want = norm(lastMessage ?? '');
  if (!want) return true;
  const response = (trace.spans[0]?.outputs as { response?: unknown } | undefined)?.response;
  if (typeof response !== 'string') return false;
  const got = norm(response);
  if (!got) return false;
  // Claude Code joins every text block of the message; the trace's response is its last one.
  if (want === got || want.endsWith(got)) return true;
  // A very long response may be capped in the trace: its start decides.
  return got.length >= 200 && want.startsWith(got.slice(0, 200));
}

/** The first `max` UTF-16 units of `text`, never ending in half a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** Deepest nesting kept in a traced value; deeper parts are cut (walking them would overflow the stack). */
export const MAX_NESTING = 64;

/**
 * Cap every string inside a JSON value, so one huge tool result cannot blow
 * memory, and cut what is nested deeper than MAX_NESTING levels.
 */
export function capStrings(value: unknown, max = MAX_FIELD_CHARS, depth = 0): unknown {
  if (typeof value === 'string') {
    if (value.length <= max) return value;
    const kept = cutText(value, max);
    return `${kept}… [truncated ${value.length - kept.length} characters]`;
  }
  if ((Array.isArray(value) || isBlock(value)) && depth >= MAX_NESTING) return `[cut: nested more than ${MAX_NESTING} levels deep]`;
  if (Array.isArray(value)) return value.map((v) => capStrings(v, max, depth + 1));
  if (isBlock(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = capStrings(v, max, depth + 1);
    return out;
  }
  return value;
}

/**
 * A "real" user prompt, by MLflow's rule: a user row that is not a tool
 * result, not a skill's injected text, not local command output, not empty.
 * We also skip rows Claude Code marks `isMeta` (its own caveat messages).
 */
export function isUserPrompt(row: TranscriptRow, previous?: TranscriptRow): boolean {
  if (row.type !== 'user' || row.toolUseResult || row.isMeta || isInterruption(row)) return false;
  // What Claude Code tells the model by itself (a background task finished): the turn goes on, no one typed it.
  if (isBlock(row.origin) && typeof row.origin.kind === 'string' && row.origin.kind !== 'user') return false;
  if (typeof row.message?.content === 'string' && row.message.content.startsWith('<task-notification>')) return false;
  // The summary a compaction writes (by /compact, or on its own when the context is full, mid-turn too).
  if (row.isCompactSummary) return false;
  const prevResult = previous?.toolUseResult;
  if (isBlock(prevResult) && (prevResult as Record<string, unknown>).commandName) return false;
  const content = row.message?.content;
  if (Array.isArray(content) && content.length > 0 && isBlock(content[0]) && content[0].type === 'tool_result') {
    return false;
  }
  if (typeof content === 'string' && content.includes('<local-command-stdout>')) return false;
  if (!content || (typeof content === 'string' && content.trim() === '')) return false;
  if (Array.isArray(content) && content.length === 0) return false;
  return true;
}

export function usageOf(usage: Record<string, unknown> | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  const num = (k: string): number | undefined => (typeof usage[k] === 'number' ? (usage[k] as number) : undefined);
  const input = num('input_tokens') ?? 0;
  const output = num('output_tokens') ?? 0;
  const out: TokenUsage = { input_tokens: input, output_tokens: output, total_tokens: input + output };
  const cacheRead = num('cache_read_input_tokens');
  const cacheCreation = num('cache_creation_input_tokens');
  if (cacheRead !== undefined) out.cache_read_input_tokens = cacheRead;
  if (cacheCreation !== undefined) out.cache_creation_input_tokens = cacheCreation;
  return out;
}

export function addUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (!a) return b;
  if (!b) return a;
  const sum: TokenUsage = {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
  for (const k of ['cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
    if (a[k] !== undefined || b[k] !== undefined) sum[k] = (a[k] ?? 0) + (b[k] ?? 0);
  }
  return sum;
}

function hex(input: string, length: number): string {
  return createHash('sha256').update(input).digest('hex').slice(0, length);
}

/** A stable OTel trace id: the same session and turn always give the same id. */
export function traceIdFor(sessionId: string, turnKey: string): string {
  return hex(`claude-mlflow:${sessionId}:${turnKey}`, 32);
}

/** A stable span id: the same trace and key always give the same id. */
export function spanIdFor(traceId: string, key: string): string {
  const id = hex(`${traceId}:${key}`, 16);
  return id === '0000000000000000' ? '0000000000000001' : id;
}

/**
 * Builds the trace of the last turn of a transcript, row by row.
 * Push every row in order, then call `build()`.
 */
export class TurnBuilder {
  private turn: Turn | undefined;
  /** Turns the user stopped since the last one that ended on its own: no Stop traced them. */
  private interruptedTurns: Turn[] = [];
  private previous: TranscriptRow | undefined;
  private lastTimestampMs: number | undefined;
  /** Messages since the last model call: the next LLM call's input. */
  private pendingMessages: unknown[] = [];
  /** The last queued (`enqueue`) prompt, which the user row that follows repeats. */
  private queuedPrompt: { role: string; content: unknown } | undefined;
  private version: string | undefined;
  private rowIndex = 0;

  push(row: TranscriptRow): void {
    this.rowIndex += 1;
    if (!this.version && typeof row.version === 'string') this.version = row.version;
    const ts = parseTimestampMs(row.timestamp);
    const previousMs = this.lastTimestampMs;
    if (ts !== undefined) this.lastTimestampMs = ts;

    if (isUserPrompt(row, this.previous)) {
      this.rememberInterrupted(this.turn);
      const prompt = textOf(row.message?.content);
      this.dropQueuedCopyOf(row.message?.content);
      const startMs = ts ?? previousMs ?? 0;
      this.turn = {
        promptKey: row.uuid ?? `${row.timestamp ?? ''}#${this.rowIndex}`,
        prompt: capStrings(prompt) as string,
        startMs,
        lastMs: startMs,
        calls: [],
        results: new Map(),
      };
    } else if (this.turn) {
      this.addToTurn(this.turn, row, ts ?? previousMs ?? this.turn.lastMs, previousMs ?? this.turn.startMs);
      if (isInterruption(row)) this.turn.interrupted = true;
    }
    this.trackInputMessages(row);
    this.previous = { type: row.type, toolUseResult: row.toolUseResult };
  }

  /** A new prompt ends the turn before it: one the user stopped waits for the next Stop; one that ended on its own was traced. */
  private rememberInterrupted(turn: Turn | undefined): void {
    if (!turn) return;
    if (!turn.interrupted) {
      this.interruptedTurns = [];
      return;
    }
    this.interruptedTurns.push(turn);
    if (this.interruptedTurns.length > MAX_INTERRUPTED_TURNS) this.interruptedTurns.shift();
  }

  private addToTurn(turn: Turn, row: TranscriptRow, atMs: number, previousMs: number): void {
    turn.lastMs = Math.max(turn.lastMs, atMs);
    if (row.type === 'assistant') {
      this.addAssistantRow(turn, row, atMs, previousMs);
    } else if (row.type === 'user') {
      const skill = skillLaunchedBy(row);
      for (const block of blocksOf(row.message?.content)) {
        if (block.type === 'tool_result' && block.tool_use_id) {
          turn.results.set(block.tool_use_id, {
            result: capStrings(block.content ?? ''),
            isError: block.is_error === true,
            endMs: atMs,
            ...(skill ? { skill } : {}),
          });
          // A Skill that failed never injected its body: what follows does not run under it.
          if (skill && block.is_error !== true) turn.activeSkill = skill;
        }
      }
    }
  }

  private addAssistantRow(turn: Turn, row: TranscriptRow, atMs: number, previousMs: number): void {
    const msg = row.message ?? {};
    const blocks = capStrings(blocksOf(msg.content)) as ContentBlock[];
    const messageId = msg.id ?? row.uuid ?? `row-${this.rowIndex}`;
    let call = turn.calls.at(-1);
    if (!call || call.messageId !== messageId) {
      call = {
        messageId,
        model: msg.model ?? 'unknown',
        // The row before is what the model answered; Claude Code stamps some
        // rows a few ms before the prompt, so never start before the turn.
        startMs: Math.max(turn.startMs, Math.min(previousMs, atMs)),
        endMs: atMs,
        inputMessages: this.pendingMessages.slice(),
        content: [],
        toolUses: [],
        ...(turn.activeSkill ? { skill: turn.activeSkill } : {}),
      };
      turn.calls.push(call);
    }
    call.endMs = Math.max(call.endMs, atMs);
    if (msg.usage) call.usage = msg.usage;
    for (const block of blocks) {
      call.content.push(block);
      if (block.type === 'tool_use') call.toolUses.push({ block, startMs: atMs, ...(turn.activeSkill ? { skill: turn.activeSkill } : {}) });
      if (block.type === 'text' && (block.text ?? '').trim() !== '') turn.finalResponse = block.text;
    }
  }

  /**
   * In `claude -p` and for typed-ahead prompts, Claude Code logs the prompt
   * as a queue `enqueue` and then as the user row itself. Keep it once.
   */
  private dropQueuedCopyOf(content: unknown): void {
    const queued = this.queuedPrompt;
    if (queued && this.pendingMessages.at(-1) === queued && textOf(queued.content) === textOf(content)) {
      this.pendingMessages.pop();
    }
  }

  /**
   * The next LLM call's input: the messages new since the last call (the
   * prompt, then the tool results it gets back). MLflow's `_get_input_messages`
   * repeats everything since the last assistant text instead, which makes a
   * turn of N tool calls cost N² (each call's input repeats every earlier
   * result); the earlier messages are in the earlier calls' spans.
   */
  private trackInputMessages(row: TranscriptRow): void {
    const msg = row.message;
    if (row.type === 'assistant') {
      // The call this row belongs to took the pending messages as its input.
      this.pendingMessages = [];
      return;
    }
    if (row.type === 'queue-operation' && row.operation === 'enqueue' && row.content) {
      this.queuedPrompt = { role: 'user', content: capStrings(row.content) };
      this.pendingMessages.push(this.queuedPrompt);
    } else if (msg?.role && msg.content) {
      this.pendingMessages.push(capStrings({ role: msg.role, content: msg.content }));
    }
    if (this.pendingMessages.length > MAX_INPUT_MESSAGES) this.pendingMessages.shift();
  }

  /** The trace of the last turn, or undefined when the transcript has no user prompt. */
  build(context: TraceContext): TraceModel | undefined {
    return this.turn ? this.traceOf(this.turn, context) : undefined;
  }

  /**
   * The traces of the turns the user stopped right before the last one:
   * Claude Code fires no Stop for them, so the Stop of the next turn traces them.
   */
  buildInterrupted(context: TraceContext): TraceModel[] {
    return this.interruptedTurns.map((turn) => this.traceOf(turn, context));
  }

  /** The trace of one turn: an LLM span per model call with its tool spans after it, under one root span. */
  private traceOf(turn: Turn, context: TraceContext): TraceModel {
    const turnKey = context.agent ? `agent:${context.agent.id}` : turn.promptKey;
    const traceId = traceIdFor(context.sessionId, turnKey);
    const rootId = spanIdFor(traceId, 'root');
    const children: SpanModel[] = [];
    let tokenUsage: TokenUsage | undefined;

    turn.calls.forEach((call, index) => {
      const usage = usageOfCall(call);
      tokenUsage = addUsage(tokenUsage, usage);
      children.push(llmSpan(call, index, usage, traceId, rootId));
      for (const toolUse of call.toolUses) children.push(toolSpan(turn, toolUse, traceId, rootId, children.length));
    });

    const endMs = Math.max(turn.lastMs, ...children.map((s) => s.endMs));
    const root = rootSpan(turn, context, rootId, endMs);
    return {
      traceId,
      startMs: turn.startMs,
      endMs,
      requestPreview: cutText(turn.prompt, MAX_PREVIEW_CHARS),
      responsePreview: cutText(turn.finalResponse ?? '', MAX_PREVIEW_CHARS),
      metadata: traceMetadata(turn, context, this.version, tokenUsage),
      tokenUsage,
      spans: [root, ...children],
    };
  }

  /** The key of the turn in progress, for linking a subagent to its parent's trace. */
  currentTurnKey(): string | undefined {
    return this.turn?.promptKey;
  }
}

/** Claude Code's stand-in for a call the API refused: the call failed, and spent nothing. */
function isFailedCall(call: ModelCall): boolean {
  return call.model === SYNTHETIC_MODEL;
}

/** The tokens a model call spent: none for a failed one. */
function usageOfCall(call: ModelCall): TokenUsage | undefined {
  return isFailedCall(call) ? undefined : usageOf(call.usage);
}

/** The `llm` span of one model call. */
function llmSpan(call: ModelCall, index: number, usage: TokenUsage | undefined, traceId: string, rootId: string): SpanModel {
  const failed = isFailedCall(call);
  const attributes: Record<string, unknown> = {
    model: call.model,
    'mlflow.message.format': 'anthropic',
    // No `mlflow.llm.provider`: with it, the server fetches a remote model
    // catalog for costs on the request path, which stalls it for seconds offline.
    'mlflow.llm.model': call.model,
  };
  if (usage) attributes['mlflow.chat.tokenUsage'] = usage;
  if (call.skill) attributes[SKILL_ATTRIBUTE] = call.skill;
  const cost = costOf(call.model, usage);
  if (cost) attributes[LLM_COST_ATTRIBUTE] = cost;
  return {
    spanId: spanIdFor(traceId, `llm:${index}:${call.messageId}`),
    parentSpanId: rootId,
    name: 'llm',
    spanType: 'LLM',
    startMs: call.startMs,
    endMs: Math.max(call.endMs, call.startMs),
    status: failed ? 'ERROR' : 'OK',
    ...(failed ? { statusMessage: cutText(textOf(call.content), MAX_PREVIEW_CHARS) } : {}),
    inputs: { model: call.model, messages: call.inputMessages },
    outputs: { type: 'message', role: 'assistant', content: call.content },
    attributes,
  };
}

/** The `tool_<Name>` span of one tool call; `position` keys a call without an id. */
function toolSpan(turn: Turn, toolUse: ModelCall['toolUses'][number], traceId: string, rootId: string, position: number): SpanModel {
  const { block, startMs, skill } = toolUse;
  const id = block.id ?? '';
  const outcome = turn.results.get(id);
  const endMs = outcome ? Math.max(outcome.endMs, startMs) : Math.max(turn.lastMs, startMs);
  return {
    spanId: spanIdFor(traceId, `tool:${id || position}`),
    parentSpanId: rootId,
    name: `tool_${block.name ?? 'unknown'}`,
    spanType: 'TOOL',
    startMs,
    endMs,
    status: outcome?.isError ? 'ERROR' : 'OK',
    ...(outcome?.isError ? { statusMessage: cutText(textOf(outcome.result), MAX_PREVIEW_CHARS) } : {}),
    inputs: block.input ?? {},
    outputs: { result: outcome ? outcome.result : NO_RESULT },
    attributes: { tool_name: block.name ?? 'unknown', tool_id: id, ...skillAttribute(outcome?.skill ?? skill) },
  };
}

/** The root span: the prompt in, the final response and the turn's status out. */
function rootSpan(turn: Turn, context: TraceContext, rootId: string, endMs: number): SpanModel {
  const outputs: Record<string, unknown> = { status: turn.interrupted ? 'interrupted' : 'completed' };
  if (turn.finalResponse) outputs.response = turn.finalResponse;
  // MLflow reads `session.id` on a root span as the trace's session: not for a subagent's own trace (see metadata).
  const attributes: Record<string, unknown> = context.agent
    ? { 'claude_code.session_id': context.sessionId }
    : { 'session.id': context.sessionId };
  if (context.user) attributes['user.id'] = context.user;
  if (context.agent) {
    attributes.agent_id = context.agent.id;
    if (context.agent.type) attributes.agent_type = context.agent.type;
  }
  return {
    spanId: rootId,
    name: context.agent ? 'claude_code_subagent' : 'claude_code_conversation',
    spanType: 'AGENT',
    startMs: turn.startMs,
    endMs,
    status: 'OK',
    inputs: { prompt: turn.prompt },
    outputs,
    attributes,
  };
}

/** The trace's metadata: session, user, where it ran, the subagent, the tokens spent and the turn's status. */
function traceMetadata(
  turn: Turn,
  context: TraceContext,
  version: string | undefined,
  tokenUsage: TokenUsage | undefined,
): Record<string, string> {
  // A subagent's own trace (one run in the background) is not a turn of the session: MLflow's session view
  // lists every trace of a session as a user turn. Its session stays searchable under our own key.
  const metadata: Record<string, string> = context.agent
    ? { 'claude_code.session_id': context.sessionId, 'mlflow.trace.user': context.user ?? '' }
    : { 'mlflow.trace.session': context.sessionId, 'mlflow.trace.user': context.user ?? '' };
  if (context.cwd) metadata['mlflow.trace.working_directory'] = context.cwd;
  if (context.host) metadata['claude_code.host'] = context.host;
  if (version) metadata['mlflow.claude_code_version'] = version;
  if (context.agent) {
    metadata['claude_code.agent_id'] = context.agent.id;
    if (context.agent.type) metadata['claude_code.agent_type'] = context.agent.type;
    if (context.agent.parentTraceId) metadata['claude_code.parent_trace_id'] = context.agent.parentTraceId;
  }
  if (tokenUsage) metadata['mlflow.trace.tokenUsage'] = JSON.stringify(tokenUsage);
  if (turn.interrupted) metadata['claude_code.turn_status'] = 'interrupted';
  return metadata;
}

/** Convenience for tests and small inputs: all rows at once. */
export function traceFromRows(rows: TranscriptRow[], context: TraceContext): TraceModel | undefined {
  const builder = new TurnBuilder();
  for (const row of rows) builder.push(row);
  return builder.build(context);
}

/**
 * A turn that an API error ended (Claude Code's StopFailure): the root span
 * and so the trace get ERROR status, with the error as the status message
 * and in the root's outputs.
 */
export function markTurnFailed(trace: TraceModel, error: string): TraceModel {
  const message = cutText(error, MAX_PREVIEW_CHARS);
  const [root, ...rest] = trace.spans;
  if (!root) return trace;
  const outputs = { ...(root.outputs as Record<string, unknown>), status: 'error', error: message };
  return { ...trace, spans: [{ ...root, status: 'ERROR', statusMessage: message, outputs }, ...rest] };
}
