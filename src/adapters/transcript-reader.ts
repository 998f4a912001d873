/** Stream a JSONL transcript into a TurnBuilder, line by line, in bounded memory. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { TurnBuilder, type TranscriptRow } from '../core/transcript.js';

export interface ReadResult {
  builder: TurnBuilder;
  rows: number;
  badLines: number;
}

/** Lines longer than this are skipped whole: no transcript row is legitimately this big. */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/** `maxBytes`: read no further than this (the file's size at some earlier moment). */
export async function readTranscript(file: string, builder = new TurnBuilder(), maxBytes?: number): Promise<ReadResult> {
  if (maxBytes !== undefined && maxBytes <= 0) return { builder, rows: 0, badLines: 0 };
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024, ...(maxBytes !== undefined ? { end: maxBytes - 1 } : {}) });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let rows = 0;
  let badLines = 0;
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      if (line.length > MAX_LINE_CHARS) {
        badLines += 1;
        continue;
      }
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        badLines += 1;
        continue;
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        badLines += 1;
        continue;
      }
      builder.push(row as TranscriptRow);
      rows += 1;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  return { builder, rows, badLines };
}
