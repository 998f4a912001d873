/**
 * `claude-mlflow hook`: run by Claude Code as a Stop, SubagentStop and
 * SessionEnd hook. It never waits on the network: it builds the trace,
 * writes it to the spool (write-ahead, 0600), makes sure a delivery process
 * is at work on the spool, and exits 0, printing nothing to stdout. At
 * SessionEnd it waits, briefly and bounded, for this session's traces to
 * be delivered (a container may die right after `claude -p`).
 */
import { statSync } from 'node:fs';
import { paths as pathsOf, readConfig } from '../config.js';
import { resolveHookSettings } from '../core/hook-settings.js';
import { mlflowTraceId } from '../core/trace-model.js';
import { logLine } from '../adapters/log.js';
import { removePending, writePending } from '../adapters/pending.js';
import { spoolMax, spooledTraceId, spoolTrace, type SpoolTarget } from '../adapters/spool.js';
import {
  stoppedTurnsAtSessionEnd,
  TRANSCRIPT_CATCH_UP_MS,
  traceOfTurn,
  traceShapingFor,
  turnTranscripts,
  type HookInput,
  type TranscriptBytes,
} from '../services/turn-trace.js';
import { startDelivery, type DeliveryStart } from '../services/delivery/launch.js';
import { awaitSessionDelivery, type SessionEndWait } from './session-end.js';

export type { HookInput } from '../services/turn-trace.js';

export interface HookRunOptions {
  stdin: string;
  env: NodeJS.ProcessEnv;
  dataRoot: string;
  /** The delivery runtime to start (default: the one installed in the data folder). */
  deliverScript?: string;
}

export type HookOutcome =
  | { status: 'disabled' }
  | { status: 'skipped'; reason: string }
  | { status: 'nested'; reason: string }
  | { status: 'handed-over'; reason: string; delivery: DeliveryStart }
  | { status: 'spooled'; traceId: string; file: string; delivery: DeliveryStart }
  | { status: 'session-end'; wait: SessionEndWait };

function parseInput(stdin: string): HookInput | string {
  try {
    if (stdin.trim() === '') throw new Error('empty stdin');
    const input = JSON.parse(stdin) as HookInput;
    if (typeof input !== 'object' || input === null) throw new Error('stdin is not a JSON object');
    return input;
  } catch (error) {
    return `hook input unreadable: ${(error as Error).message}`;
  }
}

function sizeOf(file: string | undefined): number | undefined {
  if (!file) return undefined;
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** The transcripts' sizes now: a delivery process that builds this turn later reads no further. */
function transcriptBytes(input: HookInput): TranscriptBytes {
  const { file, parent } = turnTranscripts(input);
  return { file: sizeOf(file), parent: sizeOf(parent) };
}

/** Where the hook has got to with its turn: the cap's handler (main.ts) reads it. */
export interface HookProgress {
  /** The hook input written ahead (adapters/pending.ts), until the trace is spooled. */
  pending?: string;
  /** The trace is in the spool (or there is no turn to trace). */
  done?: boolean;
}

/**
 * Write the turn's hook input ahead, for the delivery process to build if
 * this process is stopped first. Returns the record, or undefined when there
 * is no turn to trace (tracing off, unreadable input, SessionEnd).
 */
export function writeTurnAhead(stdin: string, env: NodeJS.ProcessEnv, dataRoot: string): string | undefined {
  const files = pathsOf(dataRoot);
  const settings = resolveHookSettings(env, readConfig(files.config));
  const input = parseInput(stdin);
  if (!settings.enabled || typeof input === 'string' || input.hook_event_name === 'SessionEnd') return undefined;
  return writeInputAhead(files.spool, input, targetOf(settings), env);
}

function targetOf(settings: { trackingUri: string; experiment: SpoolTarget['experiment'] }): SpoolTarget {
  return { trackingUri: settings.trackingUri, experiment: settings.experiment };
}

function writeInputAhead(spoolDir: string, input: HookInput, target: SpoolTarget, env: NodeJS.ProcessEnv): string {
  return writePending(spoolDir, {
    version: 1,
    input: input as Record<string, unknown>,
    target,
    ...(env.USER ? { user: env.USER } : {}),
    bytes: transcriptBytes(input),
    pid: process.pid,
  });
}

/**
 * The transcript is not there yet: the input written ahead stays, and the
 * delivery process traces the turn once the transcript is there (it sees
 * that this process is gone). Without that record the turn cannot be traced.
 */
function handOver(
  reason: string,
  input: HookInput,
  pending: string | undefined,
  progress: HookProgress,
  log: (level: 'error' | 'warn' | 'info', message: string) => void,
  deliver: () => DeliveryStart,
): HookOutcome {
  progress.done = true;
  if (!pending) {
    log('error', `${reason} (session ${input.session_id ?? '?'})`);
    return { status: 'skipped', reason };
  }
  log('info', `not there yet (${reason}): the delivery process traces the turn once it is (session ${input.session_id ?? '?'})`);
  try {
    return { status: 'handed-over', reason, delivery: deliver() };
  } catch (error) {
    log('error', `could not start the delivery process (the turn waits in ${pending}): ${(error as Error).message}`);
    return { status: 'handed-over', reason, delivery: { started: false, reason: 'failed' } };
  }
}

export async function runHook(options: HookRunOptions, progress: HookProgress = {}): Promise<HookOutcome> {
  const started = Date.now();
  const files = pathsOf(options.dataRoot);
  const log = (level: 'error' | 'warn' | 'info', message: string): void => logLine(files.hookLog, level, message);
  const config = readConfig(files.config);
  const settings = resolveHookSettings(options.env, config);
  if (!settings.enabled) return { status: 'disabled' };
  const shaping = traceShapingFor(config, options.env);

  const input = parseInput(options.stdin);
  if (typeof input === 'string') {
    log('error', input);
    return { status: 'skipped', reason: input };
  }
  const deliver = (): DeliveryStart => startDelivery(options.dataRoot, options.env, options.deliverScript);
  if (input.hook_event_name === 'SessionEnd') {
    // A turn the user stopped last has had no Stop: it is traced now.
    const stopped = await stoppedTurnsAtSessionEnd(input, options.env, { started, catchUpMs: 0, log, ...shaping });
    try {
      for (const trace of stopped) spoolTrace(files.spool, targetOf(settings), trace, new Date(), spoolMax(options.env));
    } catch (error) {
      log('error', `spooling the turn stopped at the end of the session failed: ${(error as Error).message}`);
    }
    return { status: 'session-end', wait: await awaitSessionDelivery(files.spool, deliver) };
  }

  // Write the input ahead: if this process is stopped before the trace is in
  // the spool, the delivery process builds the turn from it instead.
  const target = targetOf(settings);
  try {
    progress.pending = writeInputAhead(files.spool, input, target, options.env);
  } catch (error) {
    log('warn', `could not write the hook input ahead: ${(error as Error).message}`);
  }
  const pending = progress.pending;
  const traced = await traceOfTurn(input, options.env, { started, catchUpMs: TRANSCRIPT_CATCH_UP_MS, bytes: {}, log, ...shaping });
  if (typeof traced === 'string') {
    if (pending) removePending(pending);
    progress.done = true;
    log('error', `${traced} (session ${input.session_id ?? '?'})`);
    return { status: 'skipped', reason: traced };
  }
  if ('elsewhere' in traced) {
    if (pending) removePending(pending);
    progress.done = true;
    return { status: 'nested', reason: traced.elsewhere };
  }
  if ('notYet' in traced) return handOver(traced.notYet, input, pending, progress, log, deliver);

  const { trace } = traced;
  let spooled;
  try {
    // The turns the user stopped before this one first: they happened first.
    for (const earlier of traced.interrupted) spoolTrace(files.spool, target, earlier, new Date(), spoolMax(options.env));
    spooled = spoolTrace(files.spool, target, trace, new Date(), spoolMax(options.env));
  } catch (error) {
    const reason = `spooling trace ${mlflowTraceId(trace.traceId)} failed: ${(error as Error).message}`;
    log('error', reason);
    return { status: 'skipped', reason };
  }
  if (pending) removePending(pending);
  progress.done = true;
  if (spooled.evicted.length > 0) {
    const ids = spooled.evicted.map((f) => mlflowTraceId(spooledTraceId(f))).join(', ');
    log('warn', `spool full (${spoolMax(options.env)} traces): removed the ${spooled.evicted.length} oldest, never delivered: ${ids}`);
  }
  let delivery: DeliveryStart;
  try {
    delivery = deliver();
  } catch (error) {
    log(
      'error',
      `could not start the delivery process (trace ${mlflowTraceId(trace.traceId)} waits in the spool): ${(error as Error).message}`,
    );
    delivery = { started: false, reason: 'failed' };
  }
  return { status: 'spooled', traceId: trace.traceId, file: spooled.file, delivery };
}
