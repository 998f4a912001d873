/**
 * A turn's trace, from Claude Code's hook input and the transcript it names:
 * what the hook builds at Stop and SubagentStop, and what the delivery
 * process builds for a hook that was stopped before it had spooled its turn
 * (see adapters/pending.ts). `bytes` bounds the transcripts to their size
 * when the hook ran, so a later turn never leaks into this one.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { hasLastMessage, traceIdFor, TurnBuilder, type TraceContext } from '../core/transcript.js';
import { mlflowTraceId, type TraceModel } from '../core/trace-model.js';
import { readTranscript } from '../adapters/transcript-reader.js';

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

/** Which transcript to trace, and the context of its trace (a subagent's parent trace id needs the parent transcript: read once). */
async function traceSource(input: HookInput, env: NodeJS.ProcessEnv, bytes: TranscriptBytes): Promise<{ file: string; context: TraceContext } | string> {
  const sessionId = input.session_id;
  if (!sessionId) return 'hook input has no session_id';
  const isSubagent = input.hook_event_name === 'SubagentStop' && !!input.agent_id;
  const file = isSubagent ? subagentTranscriptPath(input) : input.transcript_path;
  if (!file) return 'hook input has no transcript path';
  const kind = fileKind(file);
  if (kind === 'missing') return `transcript not found: ${file}`;
  if (kind === 'other') return `transcript is not a regular file (a FIFO, a device or a folder), so it is not read: ${file}`;

  const context: TraceContext = { sessionId, cwd: input.cwd, user: currentUser(env), host: hostname() };
  if (isSubagent && input.agent_id) {
    context.agent = { id: input.agent_id, type: input.agent_type };
    if (input.transcript_path && fileKind(input.transcript_path) === 'file') {
      const parent = await readTranscript(input.transcript_path, new TurnBuilder(), bytes.parent);
      const key = parent.builder.currentTurnKey();
      if (key) context.agent.parentTraceId = mlflowTraceId(traceIdFor(sessionId, key));
    }
  }
  return { file, context };
}

/** Read the transcript and build its trace. */
async function buildTrace(file: string, context: TraceContext, maxBytes?: number): Promise<TraceModel | string> {
  const { builder, badLines } = await readTranscript(file, new TurnBuilder(), maxBytes);
  const trace = builder.build(context);
  if (!trace) return `no user prompt in transcript ${file}${badLines ? ` (${badLines} unreadable lines)` : ''}`;
  return trace;
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

/** The turn's trace, once the transcript shows the last assistant message (or the catch-up time is over). */
export async function traceOfTurn(input: HookInput, env: NodeJS.ProcessEnv, options: TurnOptions): Promise<TraceModel | string> {
  const { started, catchUpMs, log } = options;
  const bytes = options.bytes ?? {};
  try {
    const source = await traceSource(input, env, bytes);
    if (typeof source === 'string') return source;
    let trace = await buildTrace(source.file, source.context, bytes.file);
    const last = typeof input.last_assistant_message === 'string' ? input.last_assistant_message : undefined;
    // Only the traced transcript is read again: the context (a subagent's parent) does not change.
    while (typeof trace !== 'string' && !hasLastMessage(trace, last) && Date.now() - started < catchUpMs) {
      await new Promise((resolve) => setTimeout(resolve, TRANSCRIPT_POLL_MS));
      trace = await buildTrace(source.file, source.context, bytes.file);
    }
    if (typeof trace !== 'string' && !hasLastMessage(trace, last)) {
      log('warn', `the transcript did not show the last assistant message within ${catchUpMs} ms; traced what it holds (session ${input.session_id ?? '?'})`);
    }
    return trace;
  } catch (error) {
    return `transcript unreadable: ${(error as Error).message}`;
  }
}

