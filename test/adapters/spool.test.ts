import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listSpoolFiles,
  readSpool,
  removeSpoolFile,
  spoolMax,
  spooledTraceId,
  spoolTrace,
  type SpoolTarget,
} from '../../src/adapters/spool.js';
import type { TraceModel } from '../../src/core/trace-model.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const target: SpoolTarget = { trackingUri: 'http://127.0.0.1:5000', experiment: { id: '0' } };

function trace(traceId: string, prompt = 'hello'): TraceModel {
  return {
    traceId,
    startMs: 1_000,
    endMs: 2_000,
    requestPreview: prompt,
    responsePreview: 'hi',
    metadata: { 'mlflow.trace.session': 's1' },
    spans: [
      {
        spanId: '0123456789abcdef',
        name: 'claude_code_conversation',
        spanType: 'AGENT',
        startMs: 1_000,
        endMs: 2_000,
        status: 'OK',
        inputs: { prompt },
        outputs: { status: 'completed' },
        attributes: {},
      },
    ],
  };
}

const id = (n: number): string => n.toString(16).padStart(32, '0');
const mode = (p: string): number => statSync(p).mode & 0o777;

let tmp: TempDir;
let dir: string;
beforeEach(async () => {
  tmp = await makeTempDir();
  dir = path.join(tmp.path, 'data', 'spool');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('spoolTrace', () => {
  it('writes the record a span at a time, and it reads back exactly (no spans, several, values with brackets)', () => {
    const none = { ...trace(id(7)), spans: [] };
    const several = trace(id(8), 'prompt with [] and ]}} in it');
    several.metadata.odd = '[]}}';
    several.spans.push({
      ...several.spans[0]!,
      spanId: 'fedcba9876543210',
      parentSpanId: '0123456789abcdef',
      name: 'llm',
      inputs: { messages: [[], {}] },
    });
    for (const t of [none, several]) {
      const { file } = spoolTrace(dir, target, t, new Date(5_000));
      const record = JSON.parse(readFileSync(file, 'utf8'));
      expect(record).toEqual({ version: 1, spooledAt: new Date(5_000).toISOString(), target, trace: t });
    }
  });

  it('writes a 0600 file in a 0700 folder it creates', () => {
    const file = spoolTrace(dir, target, trace(id(1))).file;
    expect(path.dirname(file)).toBe(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(path.basename(file)).toMatch(new RegExp(`^\\d{15}-${id(1)}\\.trace\\.json$`));
  });

  it('stores the target and the trace as they were given', () => {
    const now = new Date('2026-01-02T03:04:05.678Z');
    const file = spoolTrace(dir, target, trace(id(1), 'héllo 👋 \u2028'), now).file;
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      spooledAt: '2026-01-02T03:04:05.678Z',
      target,
      trace: trace(id(1), 'héllo 👋 \u2028'),
    });
  });

  it('names files so that they sort in creation order', () => {
    // Trace ids in the opposite order to creation, so the time must decide.
    let at = Date.parse('2026-01-01T00:00:00.000Z');
    const created: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      at += i % 2 ? 1 : 997; // 1 ms apart, or about a second
      created.push(spoolTrace(dir, target, trace(id(1000 - i)), new Date(at)).file);
    }
    expect(listSpoolFiles(dir)).toEqual(created);
    expect(readSpool(dir).entries.map((e) => e.record.trace.traceId)).toEqual(created.map((_, i) => id(1000 - i)));
    // Also across a change in the number of digits of the timestamp.
    const early = path.join(tmp.path, 'early');
    const a = spoolTrace(early, target, trace(id(2)), new Date(999_999_999)).file;
    const b = spoolTrace(early, target, trace(id(1)), new Date(1_000_000_000_000)).file;
    expect(listSpoolFiles(early)).toEqual([a, b]);
  });

  it('replaces the file of a trace spooled again instead of adding one', () => {
    const first = spoolTrace(dir, target, trace(id(7), 'old'), new Date(1_000)).file;
    const other = spoolTrace(dir, target, trace(id(8)), new Date(2_000)).file;
    const again = spoolTrace(dir, { ...target, experiment: { name: 'renamed' } }, trace(id(7), 'new'), new Date(3_000)).file;
    expect(again).toBe(first);
    expect(listSpoolFiles(dir)).toEqual([first, other]);
    const { entries } = readSpool(dir);
    expect(entries).toHaveLength(2);
    const record = entries.find((e) => e.record.trace.traceId === id(7))!.record;
    expect(record.trace.requestPreview).toBe('new');
    expect(record.target.experiment).toEqual({ name: 'renamed' });
    expect(mode(first)).toBe(0o600);
    // No temp files are left behind.
    expect(readdirSync(dir).sort()).toEqual([path.basename(first), path.basename(other)].sort());
  });
});

describe('readSpool', () => {
  it('returns nothing for a missing folder', () => {
    expect(readSpool(path.join(tmp.path, 'nope'))).toEqual({ entries: [], unreadable: [] });
    expect(listSpoolFiles(path.join(tmp.path, 'nope'))).toEqual([]);
  });

  it('ignores temp files and files that are not spool files', () => {
    const good = spoolTrace(dir, target, trace(id(1)), new Date(5_000)).file;
    writeFileSync(path.join(dir, `.${path.basename(good)}.1234.99.tmp`), '{"half": ');
    writeFileSync(path.join(dir, '.000000000000001-hidden.trace.json'), 'garbage');
    writeFileSync(path.join(dir, 'notes.txt'), 'garbage');
    writeFileSync(path.join(dir, '000000000000002-x.trace.json.bak'), 'garbage');
    const { entries, unreadable } = readSpool(dir);
    expect(entries.map((e) => e.file)).toEqual([good]);
    expect(unreadable).toEqual([]);
  });

  it('reports unreadable and garbage files without throwing, and still returns the good ones', () => {
    const first = spoolTrace(dir, target, trace(id(1)), new Date(1_000)).file;
    const last = spoolTrace(dir, target, trace(id(9)), new Date(9_000)).file;
    const bad = {
      garbage: path.join(dir, '000000000002000-garbage.trace.json'),
      truncated: path.join(dir, '000000000003000-truncated.trace.json'),
      empty: path.join(dir, '000000000004000-empty.trace.json'),
      jsonNull: path.join(dir, '000000000005000-null.trace.json'),
      wrongVersion: path.join(dir, '000000000006000-v2.trace.json'),
      noTrace: path.join(dir, '000000000007000-notrace.trace.json'),
      folder: path.join(dir, '000000000008000-folder.trace.json'),
    };
    writeFileSync(bad.garbage, '\u0000\u0001 not json at all');
    writeFileSync(bad.truncated, readFileSync(first, 'utf8').slice(0, 40));
    writeFileSync(bad.empty, '');
    writeFileSync(bad.jsonNull, 'null');
    writeFileSync(bad.wrongVersion, JSON.stringify({ version: 2, target, trace: trace(id(3)) }));
    writeFileSync(bad.noTrace, JSON.stringify({ version: 1, target }));
    mkdirSync(bad.folder); // readFileSync fails with EISDIR, even as root

    const result = readSpool(dir);
    expect(result.entries.map((e) => e.file)).toEqual([first, last]);
    expect(result.unreadable).toEqual(Object.values(bad));
  });

  it('forgets a file once removed', () => {
    const a = spoolTrace(dir, target, trace(id(1)), new Date(1_000)).file;
    const b = spoolTrace(dir, target, trace(id(2)), new Date(2_000)).file;
    removeSpoolFile(a);
    removeSpoolFile(a); // twice is fine
    expect(readSpool(dir).entries.map((e) => e.file)).toEqual([b]);
  });
});

describe('spool bound', () => {
  it('keeps at most `max` traces, evicting the oldest first and saying which', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spool-bound-'));
    try {
      const files = [1, 2, 3].map((n) => spoolTrace(dir, target, trace(id(n)), new Date(n * 1000), 3));
      expect(files.every((f) => f.evicted.length === 0)).toBe(true);
      const fourth = spoolTrace(dir, target, trace(id(4)), new Date(4000), 3);
      expect(fourth.evicted).toEqual([files[0]!.file]);
      expect(listSpoolFiles(dir)).toEqual([files[1]!.file, files[2]!.file, fourth.file]);
      expect(spooledTraceId(fourth.file)).toBe(id(4));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads its bound from CLAUDE_MLFLOW_SPOOL_MAX, ignoring nonsense', () => {
    expect(spoolMax({ CLAUDE_MLFLOW_SPOOL_MAX: '25' })).toBe(25);
    expect(spoolMax({ CLAUDE_MLFLOW_SPOOL_MAX: '0' })).toBe(1000);
    expect(spoolMax({ CLAUDE_MLFLOW_SPOOL_MAX: 'lots' })).toBe(1000);
    expect(spoolMax({})).toBe(1000);
  });
});
