/**
 * `doctor --deep`: run the exact hook command Claude Code would run, on a
 * synthetic one-turn transcript, with the env block of the settings; confirm
 * through MLflow's API that the trace arrived, then delete it again.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequestText } from '../adapters/http.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { listSpoolFiles, removeSpoolFile } from '../adapters/spool.js';
import { readConfig } from '../config.js';
import type { ContextFacts, DeepFacts, SettingsFacts } from '../core/checks/facts.js';
import { SCOPE_PRECEDENCE } from '../core/scopes.js';
import { ourHooks, readScopes } from '../core/checks/settings-derived.js';
import { resolveHookSettings } from '../core/hook-settings.js';
import { mlflowTraceId } from '../core/trace-model.js';
import { traceFromRows, type TranscriptRow } from '../core/transcript.js';
import { runProcess } from '../adapters/process.js';
import { hookCommand } from '../adapters/hook-runtime.js';
import { sleep } from '../adapters/sleep.js';

const DEEP_TIMEOUT_MS = 15_000;
/** How long the hook's delivery process gets to send the test trace. */
const DELIVERY_WAIT_MS = 10_000;

/** The env Claude Code gives a hook: its own env, then every settings file's `env`, higher scopes winning. */
export function hookEnvironment(settings: SettingsFacts, base: NodeJS.ProcessEnv, project: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, CLAUDE_PROJECT_DIR: project };
  const scopes = readScopes(settings).sort((a, b) => SCOPE_PRECEDENCE.indexOf(b.scope) - SCOPE_PRECEDENCE.indexOf(a.scope));
  for (const s of scopes) {
    const block = s.doc?.env;
    if (typeof block !== 'object' || block === null || Array.isArray(block)) continue;
    for (const [k, v] of Object.entries(block)) if (typeof v === 'string') env[k] = v;
  }
  return env;
}

function syntheticTranscript(sessionId: string, cwd: string): TranscriptRow[] {
  const now = Date.now();
  const common = { sessionId, cwd, version: 'claude-mlflow-doctor' };
  return [
    {
      type: 'user',
      uuid: `${sessionId}-u`,
      timestamp: new Date(now - 1000).toISOString(),
      ...common,
      message: { role: 'user', content: 'claude-mlflow doctor --deep: synthetic turn' },
    },
    {
      type: 'assistant',
      uuid: `${sessionId}-a`,
      timestamp: new Date(now).toISOString(),
      ...common,
      message: {
        id: `msg_${sessionId}`,
        role: 'assistant',
        model: 'claude-mlflow-doctor',
        content: [{ type: 'text', text: 'ok' }],
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    },
  ] as TranscriptRow[];
}

interface DeepInput {
  context: ContextFacts;
  settings: SettingsFacts;
  env: NodeJS.ProcessEnv;
  project: string;
  /** Says what is about to run, before it runs. */
  announce?: (line: string) => void;
}

/** Our Stop hook, the env Claude Code would give it, and where its trace goes. */
interface HookRun {
  command: string;
  env: NodeJS.ProcessEnv;
  trackingUri: string;
}

/** Why doctor does not run the hook. */
interface NotRun {
  reason: string;
  command?: string;
}

export async function runDeep(input: DeepInput): Promise<DeepFacts> {
  const hook = hookToRun(input);
  if ('reason' in hook) return { requested: true, ran: false, ...hook };

  const dir = mkdtempSync(join(tmpdir(), 'claude-mlflow-deep-'));
  const sessionId = `claude-mlflow-doctor-${randomUUID()}`;
  const rows = syntheticTranscript(sessionId, input.project);
  const transcript = join(dir, `${sessionId}.jsonl`);
  writeFileSync(transcript, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const trace = traceFromRows(rows, { sessionId });
  const traceId = trace ? mlflowTraceId(trace.traceId) : undefined;
  const stdin = JSON.stringify({
    session_id: sessionId,
    transcript_path: transcript,
    cwd: input.project,
    hook_event_name: 'Stop',
    stop_hook_active: false,
  });

  const facts: DeepFacts = { requested: true, ran: true, command: hook.command, ...(traceId ? { traceId } : {}) };
  input.announce?.(`doctor --deep runs the hook command: ${hook.command}`);
  try {
    await runHook(facts, hook, stdin, input.project);
    if (!trace || !traceId) return facts;
    await waitForDelivery(facts, input.context.files.spool, trace.traceId);
    await confirmArrival(facts, hook, traceId);
    return facts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our Stop hook, exactly as init writes it, with tracing on; otherwise why doctor does not run it. */
function hookToRun(input: DeepInput): HookRun | NotRun {
  const hook = ourHooks(readScopes(input.settings)).find((h) => h.event === 'Stop');
  if (!hook) return { reason: 'No Stop hook of ours to run (see hook-once).' };
  // Only the exact command init writes (this node, our runtime): a settings file, a cloned
  // project's among them, may name any program, and doctor runs none of those.
  const ours = hookCommand(input.context.files.hookScript);
  if (hook.command !== ours) {
    return {
      reason: `The Stop hook command is not exactly ours, so doctor does not run it: ${hook.command} (ours: ${ours}; \`claude-mlflow doctor --fix\` or \`init\` writes it).`,
      command: hook.command,
    };
  }
  const env = hookEnvironment(input.settings, input.env, input.project);
  const target = resolveHookSettings(env, readConfig(input.context.files.config));
  if (!target.enabled) return { reason: 'Tracing is not enabled in the settings (see tracing-enabled).', command: hook.command };
  return { command: hook.command, env, trackingUri: target.trackingUri };
}

/** Run the command as Claude Code does: through the shell, with the hook input on stdin. */
async function runHook(facts: DeepFacts, hook: HookRun, stdin: string, cwd: string): Promise<void> {
  const t0 = performance.now();
  const r = await runProcess(hook.command, [], {
    shell: process.platform === 'win32' ? true : '/bin/sh',
    input: stdin,
    env: hook.env,
    cwd,
    timeoutMs: DEEP_TIMEOUT_MS,
  });
  facts.ms = performance.now() - t0;
  if (r.exitCode !== undefined) facts.exitCode = r.exitCode;
  if (r.exitCode !== 0)
    facts.error =
      r.error ?? (r.stderr.trim().split('\n').slice(-3).join(' ') || (r.timedOut ? `timed out after ${DEEP_TIMEOUT_MS} ms` : 'killed'));
}

/** The hook spools the trace and its delivery process sends it: wait for that. */
async function waitForDelivery(facts: DeepFacts, spoolDir: string, traceId: string): Promise<void> {
  const ours = (): string[] => listSpoolFiles(spoolDir).filter((f) => f.endsWith(`-${traceId}.trace.json`));
  const waitUntil = Date.now() + DELIVERY_WAIT_MS;
  while (ours().length > 0 && Date.now() < waitUntil) await sleep(50);
  // A copy still spooled must never be delivered later.
  const spooled = ours();
  for (const f of spooled) removeSpoolFile(f);
  if (spooled.length) facts.spooled = true;
}

/** Ask MLflow for the trace; when it arrived, delete it again. */
async function confirmArrival(facts: DeepFacts, hook: HookRun, traceId: string): Promise<void> {
  const client = new MlflowClient({ trackingUri: hook.trackingUri, env: hook.env, timeoutMs: 5000 });
  const info = await client.getTraceInfo(traceId).catch((error: Error) => {
    facts.error ??= error.message;
    return undefined;
  });
  facts.arrived = Boolean(info);
  if (!info) return;
  const location = info.trace_location as { mlflow_experiment?: { experiment_id?: string } } | undefined;
  const experimentId = location?.mlflow_experiment?.experiment_id;
  if (experimentId) facts.deleted = await deleteTestTrace(client, experimentId, traceId);
}

async function deleteTestTrace(client: MlflowClient, experimentId: string, traceId: string): Promise<boolean> {
  const res = await httpRequestText(`${client.baseUrl}/api/2.0/mlflow/traces/delete-traces`, {
    method: 'POST',
    timeoutMs: 5000,
    headers: { ...client.connection.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ experiment_id: experimentId, request_ids: [traceId] }),
  }).catch(() => undefined);
  return res?.status === 200 && (JSON.parse(res.body || '{}') as { traces_deleted?: number }).traces_deleted === 1;
}
