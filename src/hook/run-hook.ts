/**
 * `claude-mlflow hook`: run by Claude Code as a Stop and SubagentStop hook.
 * It never blocks Claude: it always exits 0, prints nothing to stdout, and
 * gives up (spooling the trace) well inside its time budget.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { paths as pathsOf, readConfig } from '../config.js';
import { resolveHookSettings } from '../core/hook-settings.js';
import { hasLastMessage, traceIdFor, TurnBuilder, type TraceContext } from '../core/transcript.js';
import { mlflowTraceId, type TraceModel } from '../core/trace-model.js';
import { logLine } from '../adapters/log.js';
import { backoffFileIn, clearBackoff, readBackoff, recordSlowFailure } from '../adapters/backoff.js';
import { spoolMax, spooledTraceId, spoolTrace, type SpoolTarget } from '../adapters/spool.js';
import { readTranscript } from '../adapters/transcript-reader.js';
import { deliverTrace, deliveryContext, flushSpool } from './deliver.js';

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

export interface HookRunOptions {
  stdin: string;
  env: NodeJS.ProcessEnv;
  dataRoot: string;
  /** Total time budget in ms; the hook is done (delivered or spooled) by then. */
  budgetMs?: number;
}

export type HookOutcome =
  | { status: 'disabled' }
  | { status: 'skipped'; reason: string }
  | { status: 'delivered'; traceId: string; flushed: number }
  | { status: 'spooled'; traceId: string; file: string; reason: string };

/** A failed delivery that took this long (a timeout, not a refusal) starts a backoff. */
const SLOW_FAILURE_MS = 500;

/** Time kept back at the end for writing the spool file. */
const SPOOL_RESERVE_MS = 250;
export const DEFAULT_BUDGET_MS = 1200;
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

/** Which transcript to trace, and the context of its trace (a subagent's parent trace id needs the parent transcript: read once). */
async function traceSource(input: HookInput, env: NodeJS.ProcessEnv): Promise<{ file: string; context: TraceContext } | string> {
  const sessionId = input.session_id;
  if (!sessionId) return 'hook input has no session_id';
  const isSubagent = input.hook_event_name === 'SubagentStop' && !!input.agent_id;
  const file = isSubagent ? subagentTranscriptPath(input) : input.transcript_path;
  if (!file) return 'hook input has no transcript path';
  if (!existsSync(file)) return `transcript not found: ${file}`;

  const context: TraceContext = { sessionId, cwd: input.cwd, user: currentUser(env), host: hostname() };
  if (isSubagent && input.agent_id) {
    context.agent = { id: input.agent_id, type: input.agent_type };
    if (input.transcript_path && existsSync(input.transcript_path)) {
      const parent = await readTranscript(input.transcript_path);
      const key = parent.builder.currentTurnKey();
      if (key) context.agent.parentTraceId = mlflowTraceId(traceIdFor(sessionId, key));
    }
  }
  return { file, context };
}

/** Read the transcript and build its trace. */
async function buildTrace(file: string, context: TraceContext): Promise<TraceModel | string> {
  const { builder, badLines } = await readTranscript(file, new TurnBuilder());
  const trace = builder.build(context);
  if (!trace) return `no user prompt in transcript ${file}${badLines ? ` (${badLines} unreadable lines)` : ''}`;
  return trace;
}

export async function runHook(options: HookRunOptions): Promise<HookOutcome> {
  const started = Date.now();
  const deadline = started + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  const files = pathsOf(options.dataRoot);
  const log = (level: 'error' | 'warn' | 'info', message: string): void => logLine(files.hookLog, level, message);
  const settings = resolveHookSettings(options.env, readConfig(files.config));
  if (!settings.enabled) return { status: 'disabled' };

  let input: HookInput;
  try {
    if (options.stdin.trim() === '') throw new Error('empty stdin');
    input = JSON.parse(options.stdin) as HookInput;
    if (typeof input !== 'object' || input === null) throw new Error('stdin is not a JSON object');
  } catch (error) {
    const reason = `hook input unreadable: ${(error as Error).message}`;
    log('error', reason);
    return { status: 'skipped', reason };
  }

  let trace: TraceModel | string;
  try {
    const source = await traceSource(input, options.env);
    trace = typeof source === 'string' ? source : await buildTrace(source.file, source.context);
    const last = typeof input.last_assistant_message === 'string' ? input.last_assistant_message : undefined;
    // Only the traced transcript is read again: the context (a subagent's parent) does not change.
    while (typeof source !== 'string' && typeof trace !== 'string' && !hasLastMessage(trace, last) && Date.now() - started < TRANSCRIPT_CATCH_UP_MS) {
      await new Promise((resolve) => setTimeout(resolve, TRANSCRIPT_POLL_MS));
      trace = await buildTrace(source.file, source.context);
    }
    if (typeof trace !== 'string' && !hasLastMessage(trace, last)) {
      log('warn', `the transcript did not show the last assistant message within ${TRANSCRIPT_CATCH_UP_MS} ms; traced what it holds (session ${input.session_id ?? '?'})`);
    }
  } catch (error) {
    trace = `transcript unreadable: ${(error as Error).message}`;
  }
  if (typeof trace === 'string') {
    log('error', `${trace} (session ${input.session_id ?? '?'})`);
    return { status: 'skipped', reason: trace };
  }

  const target: SpoolTarget = { trackingUri: settings.trackingUri, experiment: settings.experiment };
  const backoffFile = backoffFileIn(files.spool);
  const spool = (reason: string): HookOutcome => {
    try {
      const spooled = spoolTrace(files.spool, target, trace, new Date(), spoolMax(options.env));
      log('error', `export to ${settings.trackingUri} failed, trace ${mlflowTraceId(trace.traceId)} spooled: ${reason}`);
      if (spooled.evicted.length > 0) {
        const ids = spooled.evicted.map((f) => mlflowTraceId(spooledTraceId(f))).join(', ');
        log('warn', `spool full (${spoolMax(options.env)} traces): removed the ${spooled.evicted.length} oldest, never delivered: ${ids}`);
      }
      return { status: 'spooled', traceId: trace.traceId, file: spooled.file, reason };
    } catch (spoolError) {
      log('error', `export failed (${reason}) and spooling failed: ${(spoolError as Error).message}`);
      return { status: 'skipped', reason };
    }
  };

  const backoff = readBackoff(backoffFile);
  if (Date.now() < backoff.retryAt) {
    return spool(`the server timed out recently; not retried before ${new Date(backoff.retryAt).toISOString()}`);
  }
  const attemptStarted = Date.now();
  const delivery = deliveryContext(files.spool);
  try {
    try {
      await deliverTrace(trace, target, deadline - SPOOL_RESERVE_MS, options.env, delivery);
    } catch (error) {
      if (Date.now() - attemptStarted >= SLOW_FAILURE_MS) recordSlowFailure(backoffFile);
      return spool((error as Error).message || String(error));
    }
    if (backoff.failures > 0) clearBackoff(backoffFile);

    // The server is up: deliver what waited in the spool, within what time is left.
    const flushed = await flushSpool(files.spool, deadline - SPOOL_RESERVE_MS, options.env, delivery).catch(() => undefined);
    return { status: 'delivered', traceId: trace.traceId, flushed: flushed?.delivered ?? 0 };
  } finally {
    delivery.agents.destroy();
  }
}
