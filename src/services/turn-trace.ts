/**
 * A turn's trace, from Claude Code's hook input and the transcript it names:
 * what the hook builds at Stop and SubagentStop, and what the delivery
 * process builds for a hook that was stopped before it had spooled its turn
 * (see adapters/pending.ts). `bytes` bounds the transcripts to their size
 * when the hook ran, so a later turn never leaks into this one.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { hasLastMessage, INTERRUPT_MARKER, markTurnFailed, SYNTHETIC_MODEL, traceIdFor, TurnBuilder, type TraceContext, type TranscriptRow } from '../core/transcript.js';
import { mlflowTraceId, type TraceModel } from '../core/trace-model.js';
import { withTraceCost } from '../core/cost.js';
import { linkBackgroundRuns, nestSubagents, startsInBackground, toolSpanOf, type SubagentRun } from '../core/subagent-nesting.js';
import { readTranscript } from '../adapters/transcript-reader.js';
import { gitContextOf, gitMetadata } from '../adapters/git-context.js';

/** Claude Code's hook input; only the fields we use. */
export interface HookInput {
  session_id?: string;
  transcript_path?: string;
  cwd?: string;
  hook_event_name?: string;
  agent_id?: string;
  agent_type?: string;
  agent_transcript_path?: string;
  /** The turn's (or subagent's) last assistant message, as Claude Code has it. */
  last_assistant_message?: string;
  permission_mode?: string;
  /** StopFailure: the API error that ended the turn, and its details. */
  error?: unknown;
  error_details?: unknown;
}

/** How long the hook waits for the last assistant message to reach the transcript file. */
export const TRANSCRIPT_CATCH_UP_MS = 400;
const TRANSCRIPT_POLL_MS = 40;

function currentUser(env: NodeJS.ProcessEnv): string {
  if (env.USER) return env.USER;
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Only a regular file is read: reading a FIFO blocks for ever, and a device
 * such as /dev/zero never ends.
 */
function fileKind(file: string): 'file' | 'missing' | 'other' {
  try {
    return statSync(file).isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

/** Where a subagent's own transcript is, when the hook input does not say. */
export function subagentTranscriptPath(input: HookInput): string | undefined {
  if (input.agent_transcript_path) return input.agent_transcript_path;
  if (!input.transcript_path || !input.agent_id || !input.session_id) return undefined;
  return join(dirname(input.transcript_path), input.session_id, 'subagents', `agent-${input.agent_id}.jsonl`);
}

/**
 * What one hook run traces: its turn, and the turns the user stopped just
 * before it (Claude Code fires no Stop for those).
 */
export interface TurnTraces {
  trace: TraceModel;
  interrupted: TraceModel[];
}

/**
 * A run that is not traced on its own, and rightly so: a foreground
 * subagent, which the Stop of the turn that started it nests in that turn's trace.
 */
export interface TracedElsewhere {
  elsewhere: string;
}

interface AgentMeta {
  agentId: string;
  agentType?: string;
  toolUseId: string;
}

/** What Claude Code's `agent-<id>.meta.json` says of a subagent run, when it names the tool call that started it. */
function readAgentMeta(dir: string, agentId: string): AgentMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(dir, `agent-${agentId}.meta.json`), 'utf8')) as { agentType?: unknown; toolUseId?: unknown };
    if (typeof meta.toolUseId !== 'string') return undefined;
    return { agentId, toolUseId: meta.toolUseId, ...(typeof meta.agentType === 'string' ? { agentType: meta.agentType } : {}) };
  } catch {
    return undefined;
  }
}

/** The session's subagent runs, from the `.meta.json` files of its subagents folder. */
function agentMetas(dir: string): AgentMeta[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .map((entry) => /^agent-(.+)\.meta\.json$/.exec(entry)?.[1])
    .filter((id): id is string => id !== undefined)
    .map((id) => readAgentMeta(dir, id))
    .filter((meta): meta is AgentMeta => meta !== undefined);
}

/** Finds the tool call with one tool_use id among a transcript's rows. */
class ToolCallFinder {
  found: { input?: unknown } | undefined;
  constructor(private readonly toolUseId: string) {}
  push(row: TranscriptRow): void {
    if (this.found || row.type !== 'assistant' || !Array.isArray(row.message?.content)) return;
    for (const block of row.message.content as Array<{ type?: string; id?: string; input?: unknown }>) {
      if (block?.type === 'tool_use' && block.id === this.toolUseId) this.found = { input: block.input };
    }
  }
}

/** Whether another subagent of the session started this one, in its foreground (not run_in_background). */
async function startedInForegroundBySubagent(dir: string, meta: AgentMeta): Promise<boolean> {
  for (const other of agentMetas(dir)) {
    if (other.agentId === meta.agentId) continue;
    const file = join(dir, `agent-${other.agentId}.jsonl`);
    if (fileKind(file) !== 'file') continue;
    const { builder } = await readTranscript(file, new ToolCallFinder(meta.toolUseId));
    if (builder.found) return (builder.found.input as { run_in_background?: unknown } | undefined)?.run_in_background !== true;
  }
  return false;
}

/** Which transcript to trace, and the context of its trace (a subagent's parent trace id needs the parent transcript: read once). */
async function traceSource(
  input: HookInput,
  env: NodeJS.ProcessEnv,
  bytes: TranscriptBytes,
): Promise<{ file: string; context: TraceContext } | string | TracedElsewhere> {
  const sessionId = input.session_id;
  if (!sessionId) return 'hook input has no session_id';
  const isSubagent = input.hook_event_name === 'SubagentStop' && !!input.agent_id;
  const file = isSubagent ? subagentTranscriptPath(input) : input.transcript_path;
  if (!file) return 'hook input has no transcript path';
  const kind = fileKind(file);
  // A compaction runs as a subagent without a type or a transcript of its own: it is not a turn.
  if (kind === 'missing' && isSubagent && !input.agent_type) return { elsewhere: `subagent ${input.agent_id} has no type and no transcript: a compaction, not a turn` };
  if (kind === 'missing') return `transcript not found: ${file}`;
  if (kind === 'other') return `transcript is not a regular file (a FIFO, a device or a folder), so it is not read: ${file}`;

  const context: TraceContext = { sessionId, cwd: input.cwd, user: currentUser(env), host: hostname() };
  if (isSubagent && input.agent_id) {
    context.agent = { id: input.agent_id, type: input.agent_type };
    if (input.transcript_path && fileKind(input.transcript_path) === 'file') {
      const parent = await readTranscript(input.transcript_path, new TurnBuilder(), bytes.parent);
      const key = parent.builder.currentTurnKey();
      if (key) context.agent.parentTraceId = mlflowTraceId(traceIdFor(sessionId, key));
      const meta = readAgentMeta(dirname(file), input.agent_id);
      const parentTrace = parent.builder.build({ sessionId });
      const toolSpan = meta && parentTrace ? toolSpanOf(parentTrace, meta.toolUseId) : undefined;
      if (toolSpan && !startsInBackground(toolSpan)) {
        return { elsewhere: `subagent ${input.agent_id} ran in the foreground: the Stop of its turn nests it in ${context.agent.parentTraceId ?? 'that trace'}` };
      }
      // Started by another subagent: nested in that one's run, wherever that is traced.
      if (meta && !toolSpan && (await startedInForegroundBySubagent(dirname(file), meta))) {
        return { elsewhere: `subagent ${input.agent_id} ran in the foreground of another subagent, which nests it` };
      }
    }
  }
  return { file, context };
}

/** Deepest chain of subagents started by subagents that is followed. */
const MAX_SUBAGENT_DEPTH = 8;

/**
 * The trace with the foreground subagents its tool calls started nested in
 * it (and theirs in them), from the session's subagents folder.
 */
async function withForegroundSubagents(
  trace: TraceModel,
  metas: AgentMeta[],
  dir: string,
  context: TraceContext,
  outer: ReadonlySet<string> = new Set(),
): Promise<TraceModel> {
  if (outer.size >= MAX_SUBAGENT_DEPTH) return trace;
  const runs: SubagentRun[] = [];
  const background: Array<{ toolUseId: string; traceId: string }> = [];
  for (const meta of metas) {
    // A run is never nested inside itself (a meta that points into its own transcript).
    if (outer.has(meta.agentId)) continue;
    const toolSpan = toolSpanOf(trace, meta.toolUseId);
    if (!toolSpan) continue;
    if (startsInBackground(toolSpan)) {
      background.push({ toolUseId: meta.toolUseId, traceId: mlflowTraceId(traceIdFor(context.sessionId, `agent:${meta.agentId}`)) });
      continue;
    }
    const file = join(dir, `agent-${meta.agentId}.jsonl`);
    if (fileKind(file) !== 'file') continue;
    const sub = await buildTrace(file, { ...context, agent: { id: meta.agentId, type: meta.agentType } });
    if (typeof sub === 'string') continue;
    const nested = await withForegroundSubagents(sub.trace, metas, dir, context, new Set([...outer, meta.agentId]));
    runs.push({ toolUseId: meta.toolUseId, agentId: meta.agentId, agentType: meta.agentType, trace: nested });
  }
  return linkBackgroundRuns(runs.length > 0 ? nestSubagents(trace, runs) : trace, background);
}

/** The error a StopFailure hook input names, as one line of text. */
function failureOf(input: HookInput): string {
  const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));
  const error = text(input.error) || 'the turn ended with an API error';
  const details = text(input.error_details);
  return details && details !== error ? `${error}: ${details}` : error;
}

/**
 * Searchable context on the trace: the git state of the working directory,
 * the permission mode, and the models the turn used.
 */
function withSessionContext(trace: TraceModel, input: HookInput): TraceModel {
  const metadata: Record<string, string> = { ...trace.metadata };
  if (typeof input.cwd === 'string' && input.cwd !== '') Object.assign(metadata, gitMetadata(gitContextOf(input.cwd)));
  if (typeof input.permission_mode === 'string' && input.permission_mode !== '') metadata['mlflow.trace.permission_mode'] = input.permission_mode;
  const models = [...new Set(trace.spans.filter((s) => s.spanType === 'LLM').map((s) => s.attributes['mlflow.llm.model']).filter((m): m is string => typeof m === 'string' && m !== 'unknown' && m !== SYNTHETIC_MODEL))];
  if (models.length > 0) metadata['claude_code.models'] = models.join(',');
  return { ...trace, metadata };
}

/** Read the transcript and build its trace. */
async function buildTrace(file: string, context: TraceContext, maxBytes?: number): Promise<TurnTraces | string> {
  const { builder, badLines } = await readTranscript(file, new TurnBuilder(), maxBytes);
  const trace = builder.build(context);
  if (!trace) return `no user prompt in transcript ${file}${badLines ? ` (${badLines} unreadable lines)` : ''}`;
  return { trace, interrupted: context.agent ? [] : builder.buildInterrupted(context) };
}

/** The transcript the turn is traced from, and the parent's for a subagent. */
export function turnTranscripts(input: HookInput): { file?: string; parent?: string } {
  const isSubagent = input.hook_event_name === 'SubagentStop' && !!input.agent_id;
  return isSubagent ? { file: subagentTranscriptPath(input), parent: input.transcript_path } : { file: input.transcript_path };
}

/** Bounds on how much of the transcripts to read (bytes); none: all of them. */
export interface TranscriptBytes {
  file?: number;
  parent?: number;
}

export interface TurnOptions {
  /** When the hook started: the catch-up time counts from there. */
  started: number;
  /** How long to wait for the last assistant message to reach the transcript (0: not at all). */
  catchUpMs: number;
  bytes?: TranscriptBytes;
  log: (level: 'warn', message: string) => void;
}

/**
 * The turn's trace, once the transcript shows the last assistant message
 * (or the catch-up time is over), with the foreground subagents it started
 * nested in it.
 */
export async function traceOfTurn(input: HookInput, env: NodeJS.ProcessEnv, options: TurnOptions): Promise<TurnTraces | string | TracedElsewhere> {
  const { started, catchUpMs, log } = options;
  const bytes = options.bytes ?? {};
  try {
    const source = await traceSource(input, env, bytes);
    if (typeof source === 'string' || 'elsewhere' in source) return source;
    let built = await buildTrace(source.file, source.context, bytes.file);
    const last = typeof input.last_assistant_message === 'string' ? input.last_assistant_message : undefined;
    // Only the traced transcript is read again: the context (a subagent's parent) does not change.
    while (typeof built !== 'string' && !hasLastMessage(built.trace, last) && Date.now() - started < catchUpMs) {
      await new Promise((resolve) => setTimeout(resolve, TRANSCRIPT_POLL_MS));
      built = await buildTrace(source.file, source.context, bytes.file);
    }
    if (typeof built === 'string') return built;
    if (!hasLastMessage(built.trace, last)) {
      log('warn', `the transcript did not show the last assistant message within ${catchUpMs} ms; traced what it holds (session ${input.session_id ?? '?'})`);
    }
    const finish = async (trace: TraceModel): Promise<TraceModel> => {
      if (input.session_id) {
        // A subagent's transcript is in the subagents folder already; the session's is beside it.
        const dir = source.context.agent ? dirname(source.file) : join(dirname(source.file), input.session_id, 'subagents');
        const outer = new Set(source.context.agent ? [source.context.agent.id] : []);
        trace = await withForegroundSubagents(trace, agentMetas(dir), dir, source.context, outer);
      }
      return withTraceCost(withSessionContext(trace, input));
    };
    let trace = await finish(built.trace);
    if (input.hook_event_name === 'StopFailure') trace = markTurnFailed(trace, failureOf(input));
    const interrupted: TraceModel[] = [];
    for (const earlier of built.interrupted) interrupted.push(await finish(earlier));
    return { trace, interrupted };
  } catch (error) {
    return `transcript unreadable: ${(error as Error).message}`;
  }
}


/** How much of a transcript's end is looked at for an interruption at SessionEnd. */
const SESSION_END_TAIL_BYTES = 256 * 1024;

/** Whether the last SESSION_END_TAIL_BYTES of `file` hold `text`. */
function tailHolds(file: string, text: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, SESSION_END_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.includes(text);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * At SessionEnd: the turns the user stopped at the end of the session (the
 * last one, and any stopped right before it). No Stop came after them; a
 * last turn that ended on its own was traced at its Stop, so none.
 */
export async function stoppedTurnsAtSessionEnd(input: HookInput, env: NodeJS.ProcessEnv, options: TurnOptions): Promise<TraceModel[]> {
  if (!input.transcript_path || fileKind(input.transcript_path) !== 'file') return [];
  // Most sessions end on a turn that ended on its own: the end of the file tells, without reading it all.
  if (!tailHolds(input.transcript_path, INTERRUPT_MARKER)) return [];
  const traced = await traceOfTurn({ ...input, hook_event_name: 'Stop', last_assistant_message: undefined }, env, { ...options, catchUpMs: 0 });
  if (typeof traced === 'string' || 'elsewhere' in traced) return [];
  if (traced.trace.metadata['claude_code.turn_status'] !== 'interrupted') return [];
  return [...traced.interrupted, traced.trace];
}
