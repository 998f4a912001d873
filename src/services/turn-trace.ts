/**
 * A turn's trace, from Claude Code's hook input and the transcript it names:
 * what the hook builds at Stop and SubagentStop, and what the delivery
 * process builds for a hook that was stopped before it had spooled its turn
 * (see adapters/pending.ts). `bytes` bounds the transcripts to their size
 * when the hook ran, so a later turn never leaks into this one.
 */

import { dirname, join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import {
  hasLastMessage,
  INTERRUPT_MARKER,
  markTurnFailed,
  SYNTHETIC_MODEL,
  traceIdFor,
  TurnBuilder,
  type TraceContext,
} from '../core/transcript.js';
import { mlflowTraceId, type TraceModel } from '../core/trace-model.js';
import { withTraceCost } from '../core/cost.js';
import { describeRedactions, redactionOptionsFor, redactTrace, type RedactionOptions } from '../core/redact.js';
import { capTraceSize, sizeCapsFor, type SizeCaps } from '../core/size-caps.js';
import type { Config } from '../config.js';
import { startsInBackground, toolSpanOf } from '../core/subagent-nesting.js';
import { agentMetas, readAgentMeta, startedInForegroundBySubagent, withForegroundSubagents } from './subagent-runs.js';
import { buildTrace, fileKind, tailHolds, type TurnTraces } from './transcript-files.js';
import { readTranscript } from '../adapters/transcript-reader.js';
import { gitContextOf, gitMetadata } from '../adapters/git-context.js';
import { sleep } from '../adapters/sleep.js';

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

/** Where a subagent's own transcript is, when the hook input does not say. */
export function subagentTranscriptPath(input: HookInput): string | undefined {
  if (input.agent_transcript_path) return input.agent_transcript_path;
  if (!input.transcript_path || !input.agent_id || !input.session_id) return undefined;
  return join(dirname(input.transcript_path), input.session_id, 'subagents', `agent-${input.agent_id}.jsonl`);
}

/**
 * A run that is not traced on its own, and rightly so: a foreground
 * subagent, which the Stop of the turn that started it nests in that turn's trace.
 */
export interface TracedElsewhere {
  elsewhere: string;
}

/**
 * The transcript is not there (yet): Claude Code writes it through a buffer,
 * and on a busy machine its first write can come after the turn's Stop hook
 * has started. The delivery process traces the turn once it is there.
 */
export interface TranscriptNotYet {
  notYet: string;
}

/** Which transcript to trace, and the context of its trace (a subagent's parent trace id needs the parent transcript: read once). */
async function traceSource(
  input: HookInput,
  env: NodeJS.ProcessEnv,
  bytes: TranscriptBytes,
): Promise<{ file: string; context: TraceContext } | string | TracedElsewhere | TranscriptNotYet> {
  const sessionId = input.session_id;
  if (!sessionId) return 'hook input has no session_id';
  const isSubagent = input.hook_event_name === 'SubagentStop' && !!input.agent_id;
  const file = isSubagent ? subagentTranscriptPath(input) : input.transcript_path;
  if (!file) return 'hook input has no transcript path';
  const kind = fileKind(file);
  // A compaction runs as a subagent without a type or a transcript of its own: it is not a turn.
  if (kind === 'missing' && isSubagent && !input.agent_type)
    return { elsewhere: `subagent ${input.agent_id} has no type and no transcript: a compaction, not a turn` };
  if (kind === 'missing') return { notYet: `transcript not found: ${file}` };
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
        return {
          elsewhere: `subagent ${input.agent_id} ran in the foreground: the Stop of its turn nests it in ${context.agent.parentTraceId ?? 'that trace'}`,
        };
      }
      // Started by another subagent: nested in that one's run, wherever that is traced.
      if (meta && !toolSpan && (await startedInForegroundBySubagent(dirname(file), meta))) {
        return { elsewhere: `subagent ${input.agent_id} ran in the foreground of another subagent, which nests it` };
      }
    }
  }
  return { file, context };
}

/** The error a StopFailure hook input names, as one line of text. */
function failureOf(input: HookInput): string {
  const text = (value: unknown): string =>
    typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
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
  if (typeof input.permission_mode === 'string' && input.permission_mode !== '')
    metadata['mlflow.trace.permission_mode'] = input.permission_mode;
  const models = [
    ...new Set(
      trace.spans
        .filter((s) => s.spanType === 'LLM')
        .map((s) => s.attributes['mlflow.llm.model'])
        .filter((m): m is string => typeof m === 'string' && m !== 'unknown' && m !== SYNTHETIC_MODEL),
    ),
  ];
  if (models.length > 0) metadata['claude_code.models'] = models.join(',');
  return { ...trace, metadata };
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
  log: (level: 'warn' | 'info', message: string) => void;
  /** How secrets are redacted before the trace is written anywhere; false: not at all. */
  redaction?: RedactionOptions | false;
  /** Caps on span inputs and outputs, and on the whole trace (defaults: 64 KiB and 8 MiB). */
  sizeCaps?: SizeCaps;
}

/** How a trace is redacted and cut, from config.json and the environment the hook runs in: one place for the hook and the delivery process. */
export function traceShapingFor(config: Config, env: NodeJS.ProcessEnv): Pick<TurnOptions, 'redaction' | 'sizeCaps'> {
  return { redaction: redactionOptionsFor(config.redaction, env), sizeCaps: sizeCapsFor(config) };
}

/**
 * The turn's trace, once the transcript shows the last assistant message
 * (or the catch-up time is over), with the foreground subagents it started
 * nested in it.
 */
export async function traceOfTurn(
  input: HookInput,
  env: NodeJS.ProcessEnv,
  options: TurnOptions,
): Promise<TurnTraces | string | TracedElsewhere | TranscriptNotYet> {
  const { started, catchUpMs, log } = options;
  const bytes = options.bytes ?? {};
  try {
    let source = await traceSource(input, env, bytes);
    // A transcript not written yet may be a moment away: wait for it as for its last message.
    while (typeof source !== 'string' && 'notYet' in source && Date.now() - started < catchUpMs) {
      await sleep(TRANSCRIPT_POLL_MS);
      source = await traceSource(input, env, bytes);
    }
    if (typeof source === 'string' || 'elsewhere' in source || 'notYet' in source) return source;
    let built = await buildTrace(source.file, source.context, bytes.file);
    const last = typeof input.last_assistant_message === 'string' ? input.last_assistant_message : undefined;
    // Only the traced transcript is read again: the context (a subagent's parent) does not change.
    while (typeof built !== 'string' && !hasLastMessage(built.trace, last) && Date.now() - started < catchUpMs) {
      await sleep(TRANSCRIPT_POLL_MS);
      built = await buildTrace(source.file, source.context, bytes.file);
    }
    if (typeof built === 'string') return built;
    if (!hasLastMessage(built.trace, last)) {
      log(
        'warn',
        `the transcript did not show the last assistant message within ${catchUpMs} ms; traced what it holds (session ${input.session_id ?? '?'})`,
      );
    }
    const describe = async (trace: TraceModel): Promise<TraceModel> => {
      if (input.session_id) {
        // A subagent's transcript is in the subagents folder already; the session's is beside it.
        const dir = source.context.agent ? dirname(source.file) : join(dirname(source.file), input.session_id, 'subagents');
        const outer = new Set(source.context.agent ? [source.context.agent.id] : []);
        trace = await withForegroundSubagents(trace, agentMetas(dir), dir, source.context, outer);
      }
      return withTraceCost(withSessionContext(trace, input));
    };
    // Last, on the whole trace: no secret reaches the spool or the server.
    // Redacted whole, then cut: a cut never splits a secret into a part no rule knows.
    const redact = (trace: TraceModel): TraceModel => {
      if (options.redaction === false) return capTraceSize(trace, options.sizeCaps);
      const redacted = redactTrace(trace, options.redaction ?? {});
      const line = describeRedactions(redacted.counts);
      if (line) log('info', `${line} in trace ${mlflowTraceId(trace.traceId)}`);
      return capTraceSize(redacted.trace, options.sizeCaps);
    };
    let trace = await describe(built.trace);
    if (input.hook_event_name === 'StopFailure') trace = markTurnFailed(trace, failureOf(input));
    trace = redact(trace);
    const interrupted: TraceModel[] = [];
    for (const earlier of built.interrupted) interrupted.push(redact(await describe(earlier)));
    return { trace, interrupted };
  } catch (error) {
    return `transcript unreadable: ${(error as Error).message}`;
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
  const traced = await traceOfTurn({ ...input, hook_event_name: 'Stop', last_assistant_message: undefined }, env, {
    ...options,
    catchUpMs: 0,
  });
  if (typeof traced === 'string' || 'elsewhere' in traced || 'notYet' in traced) return [];
  if (traced.trace.metadata['claude_code.turn_status'] !== 'interrupted') return [];
  return [...traced.interrupted, traced.trace];
}
