/** Spool files made from the Claude Code 2.1.197 sample, one per session id, as the hook writes them. */
import { spoolTrace, type SpoolTarget } from '../../src/adapters/spool.js';
import { readJsonl, sharedFixture } from './fixtures.js';
import path from 'node:path';
import { traceFromRows } from '../../src/core/transcript.js';
import type { TraceModel } from '../../src/core/trace-model.js';

export function sampleTrace(sessionId: string): TraceModel {
  const rows = readJsonl(path.join(sharedFixture, 'read-tool-session.jsonl'));
  const trace = traceFromRows(rows, { sessionId, user: 'dev', host: 'test-host' });
  if (!trace) throw new Error('the sample transcript gave no trace');
  return trace;
}

/** Spool the sample as session `sessionId`; returns the spool file. */
export function spoolSample(spoolDir: string, sessionId: string, target: SpoolTarget, at = new Date()): string {
  return spoolTrace(spoolDir, target, sampleTrace(sessionId), at).file;
}
