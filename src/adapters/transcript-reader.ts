/** Stream a JSONL transcript into a TurnBuilder, line by line, in bounded memory. */
import { createReadStream } from 'node:fs';
import { TurnBuilder, type TranscriptRow } from '../core/transcript.js';

/** What the rows of a transcript are pushed into. */
export interface RowSink {
  push(row: TranscriptRow): void;
}

export interface ReadResult<B extends RowSink = TurnBuilder> {
  builder: B;
  rows: number;
  badLines: number;
}

/**
 * Lines longer than this are skipped whole, without ever being held in
 * memory: no transcript row is legitimately this big (Claude Code cuts long
 * tool results; an image is a few MB).
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Split a byte stream into lines (a newline byte never occurs inside a
 * UTF-8 character), handing each to `onLine`; a line longer than `maxBytes`
 * is dropped as it streams in, and counted.
 */
async function forEachLine(stream: AsyncIterable<Buffer>, maxBytes: number, onLine: (line: string) => void): Promise<number> {
  let parts: Buffer[] = [];
  let length = 0;
  let skipping = false;
  let tooLong = 0;
  const add = (piece: Buffer): void => {
    if (skipping || piece.length === 0) return;
    if (length + piece.length > maxBytes) {
      skipping = true;
      parts = [];
      length = 0;
      return;
    }
    parts.push(piece);
    length += piece.length;
  };
  const end = (): void => {
    if (skipping) tooLong += 1;
    else if (length > 0) onLine(Buffer.concat(parts, length).toString('utf8'));
    parts = [];
    length = 0;
    skipping = false;
  };
  for await (const chunk of stream) {
    let start = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, start)) {
      add(chunk.subarray(start, at));
      end();
      start = at + 1;
    }
    add(chunk.subarray(start));
  }
  end();
  return tooLong;
}

/** `maxBytes`: read no further than this (the file's size at some earlier moment). */
export async function readTranscript(file: string, builder?: TurnBuilder, maxBytes?: number): Promise<ReadResult>;
export async function readTranscript<B extends RowSink>(file: string, builder: B, maxBytes?: number): Promise<ReadResult<B>>;
export async function readTranscript(file: string, builder: RowSink = new TurnBuilder(), maxBytes?: number): Promise<ReadResult<RowSink>> {
  if (maxBytes !== undefined && maxBytes <= 0) return { builder, rows: 0, badLines: 0 };
  const stream = createReadStream(file, { highWaterMark: 256 * 1024, ...(maxBytes !== undefined ? { end: maxBytes - 1 } : {}) });
  let rows = 0;
  let badLines = 0;
  try {
    const tooLong = await forEachLine(stream, MAX_LINE_BYTES, (line) => {
      if (line.trim() === '') return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        badLines += 1;
        return;
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        badLines += 1;
        return;
      }
      builder.push(row as TranscriptRow);
      rows += 1;
    });
    badLines += tooLong;
  } finally {
    stream.destroy();
  }
  return { builder, rows, badLines };
}
