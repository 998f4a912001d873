/**
 * Reading transcripts for a trace: only regular files, whole or bounded,
 * and a look at a file's end without reading it all.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { TurnBuilder, type TraceContext } from '../core/transcript.js';
import type { TraceModel } from '../core/trace-model.js';
import { readTranscript } from '../adapters/transcript-reader.js';

/**
 * Only a regular file is read: reading a FIFO blocks for ever, and a device
 * such as /dev/zero never ends.
 */
export function fileKind(file: string): 'file' | 'missing' | 'other' {
  try {
    return statSync(file).isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

/**
 * What one hook run traces: its turn, and the turns the user stopped just
 * before it (Claude Code fires no Stop for those).
 */
export interface TurnTraces {
  trace: TraceModel;
  interrupted: TraceModel[];
}

/** Read the transcript and build its trace. */
export async function buildTrace(file: string, context: TraceContext, maxBytes?: number): Promise<TurnTraces | string> {
  const { builder, badLines } = await readTranscript(file, new TurnBuilder(), maxBytes);
  const trace = builder.build(context);
  if (!trace) return `no user prompt in transcript ${file}${badLines ? ` (${badLines} unreadable lines)` : ''}`;
  return { trace, interrupted: context.agent ? [] : builder.buildInterrupted(context) };
}

/** How much of a transcript's end is looked at for an interruption at SessionEnd. */
export const SESSION_END_TAIL_BYTES = 256 * 1024;

/** Whether the last SESSION_END_TAIL_BYTES of `file` hold `text`. */
export function tailHolds(file: string, text: string): boolean {
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
