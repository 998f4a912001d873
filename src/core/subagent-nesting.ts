/**
 * A foreground subagent's run, nested in the trace of the turn that started
 * it: under the tool span of the call that started it (its `.meta.json`
 * names that call's `toolUseId`), as an AGENT span `subagent_<type>` that
 * holds the subagent's own llm and tool spans at their true times. The
 * turn's token usage then includes what the subagent spent. Pure: no I/O.
 */
import { addUsage, spanIdFor } from './transcript.js';
import type { SpanModel, TraceModel } from './trace-model.js';

export interface SubagentRun {
  /** The id of the tool call (Agent, Task) that started the subagent. */
  toolUseId: string;
  agentId: string;
  agentType?: string;
  /** The subagent's own trace, its own subagents nested in it already. */
  trace: TraceModel;
}

/** The tool span of the call with this tool_use id. */
export function toolSpanOf(trace: TraceModel, toolUseId: string): SpanModel | undefined {
  return trace.spans.find((s) => s.spanType === 'TOOL' && s.attributes.tool_id === toolUseId);
}

/** Whether a tool call started its subagent in the background (`run_in_background`): such a run outlives the turn. */
export function startsInBackground(toolSpan: SpanModel): boolean {
  const inputs = toolSpan.inputs as { run_in_background?: unknown } | undefined;
  return inputs?.run_in_background === true;
}

/** The subagent's spans with ids of the parent trace, its root renamed and hung under `toolSpan`. */
function reparent(traceId: string, toolSpan: SpanModel, run: SubagentRun): SpanModel[] {
  const ids = new Map(run.trace.spans.map((s) => [s.spanId, spanIdFor(traceId, `subagent:${run.agentId}:${s.spanId}`)]));
  return run.trace.spans.map((span, index) => {
    const moved: SpanModel = { ...span, spanId: ids.get(span.spanId)! };
    if (index === 0) {
      // Named and described as MLflow's own integration does: the task as the tool call gave it.
      const type = run.agentType ?? 'agent';
      const call = (toolSpan.inputs ?? {}) as { prompt?: unknown; description?: unknown };
      moved.name = `subagent_${type}`;
      moved.parentSpanId = toolSpan.spanId;
      moved.inputs = {
        prompt: call.prompt ?? (span.inputs as { prompt?: unknown } | undefined)?.prompt,
        description: call.description,
        subagent_type: type,
      };
      moved.attributes = { ...span.attributes, subagent_type: type };
    } else if (span.parentSpanId !== undefined) {
      moved.parentSpanId = ids.get(span.parentSpanId) ?? ids.get(run.trace.spans[0]!.spanId);
    }
    return moved;
  });
}

/** The trace with each run nested under its tool span; a run whose tool call is not in the trace is left out. */
export function nestSubagents(trace: TraceModel, runs: readonly SubagentRun[]): TraceModel {
  let spans = trace.spans;
  let tokenUsage = trace.tokenUsage;
  let endMs = trace.endMs;
  for (const run of runs) {
    const toolSpan = toolSpanOf({ ...trace, spans }, run.toolUseId);
    if (!toolSpan) continue;
    const at = spans.indexOf(toolSpan) + 1;
    spans = [...spans.slice(0, at), ...reparent(trace.traceId, toolSpan, run), ...spans.slice(at)];
    tokenUsage = addUsage(tokenUsage, run.trace.tokenUsage);
    endMs = Math.max(endMs, run.trace.endMs);
  }
  const metadata = { ...trace.metadata };
  if (tokenUsage) metadata['mlflow.trace.tokenUsage'] = JSON.stringify(tokenUsage);
  return { ...trace, spans, endMs, metadata, ...(tokenUsage ? { tokenUsage } : {}) };
}

/**
 * A run started in the background is traced on its own: the tool span of the
 * call that started it names that trace (`claude_code.subagent_trace_id`).
 */
export function linkBackgroundRuns(trace: TraceModel, runs: ReadonlyArray<{ toolUseId: string; traceId: string }>): TraceModel {
  if (runs.length === 0) return trace;
  const byTool = new Map(runs.map((r) => [r.toolUseId, r.traceId]));
  const spans = trace.spans.map((span) => {
    const linked = span.spanType === 'TOOL' ? byTool.get(String(span.attributes.tool_id)) : undefined;
    return linked ? { ...span, attributes: { ...span.attributes, 'claude_code.subagent_trace_id': linked } } : span;
  });
  return { ...trace, spans };
}
