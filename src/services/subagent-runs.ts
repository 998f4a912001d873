/**
 * Subagent runs of a session, from Claude Code's subagents folder
 * (`<session>/subagents/agent-<id>.jsonl` and `.meta.json`): nesting the
 * foreground ones in the trace of the tool call that started them, and
 * telling whether a run was started in the foreground.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkBackgroundRuns, nestSubagents, startsInBackground, toolSpanOf, type SubagentRun } from '../core/subagent-nesting.js';
import { mlflowTraceId, type TraceModel } from '../core/trace-model.js';
import { traceIdFor, type TraceContext, type TranscriptRow } from '../core/transcript.js';
import { readTranscript } from '../adapters/transcript-reader.js';
import { buildTrace, fileKind } from './transcript-files.js';

export interface AgentMeta {
  agentId: string;
  agentType?: string;
  toolUseId: string;
}

/** What Claude Code's `agent-<id>.meta.json` says of a subagent run, when it names the tool call that started it. */
export function readAgentMeta(dir: string, agentId: string): AgentMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(dir, `agent-${agentId}.meta.json`), 'utf8')) as { agentType?: unknown; toolUseId?: unknown };
    if (typeof meta.toolUseId !== 'string') return undefined;
    return { agentId, toolUseId: meta.toolUseId, ...(typeof meta.agentType === 'string' ? { agentType: meta.agentType } : {}) };
  } catch {
    return undefined;
  }
}

/** The session's subagent runs, from the `.meta.json` files of its subagents folder. */
export function agentMetas(dir: string): AgentMeta[] {
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
export async function startedInForegroundBySubagent(dir: string, meta: AgentMeta): Promise<boolean> {
  for (const other of agentMetas(dir)) {
    if (other.agentId === meta.agentId) continue;
    const file = join(dir, `agent-${other.agentId}.jsonl`);
    if (fileKind(file) !== 'file') continue;
    const { builder } = await readTranscript(file, new ToolCallFinder(meta.toolUseId));
    if (builder.found) return (builder.found.input as { run_in_background?: unknown } | undefined)?.run_in_background !== true;
  }
  return false;
}

/** Deepest chain of subagents started by subagents that is followed. */
const MAX_SUBAGENT_DEPTH = 8;

/**
 * The trace with the foreground subagents its tool calls started nested in
 * it (and theirs in them), from the session's subagents folder.
 */
export async function withForegroundSubagents(
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
