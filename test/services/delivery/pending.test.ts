/**
 * A hook stopped before its trace was in the spool leaves its input written
 * ahead; the delivery process builds that turn, reading the transcript no
 * further than it was when the hook ran.
 */
import { appendFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listPending, writePending } from '../../../src/adapters/pending.js';
import { readSpool } from '../../../src/adapters/spool.js';
import { adoptPending } from '../../../src/services/delivery/worker.js';
import { sampleWithSession } from '../../helpers/fixtures.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const target = { trackingUri: 'http://127.0.0.1:1', experiment: { name: 'pending' } };
const age = (file: string, ms: number): void => {
  const then = new Date(Date.now() - ms);
  utimesSync(file, then, then);
};

describe('adoptPending', () => {
  it('leaves a young record alone (its hook may still be at work), then builds the turn and removes it', async () => {
    const spool = path.join(tmp.path, 'spool');
    const { stdin, transcript } = sampleWithSession(tmp.path, '00000000-0000-4000-c000-000000000001');
    const file = writePending(spool, {
      version: 1,
      input: JSON.parse(stdin),
      target,
      user: 'dev',
      bytes: { file: statSync(transcript).size },
    });
    const lines: string[] = [];
    const log = (level: string, message: string): void => void lines.push(`${level} ${message}`);
    expect(await adoptPending(spool, log)).toBe(1);
    expect(readSpool(spool).entries).toEqual([]);

    age(file, 10_000);
    expect(await adoptPending(spool, log)).toBe(0);
    expect(listPending(spool)).toEqual([]);
    const [entry] = readSpool(spool).entries;
    expect(entry!.record.target).toEqual(target);
    expect(entry!.record.trace.metadata['mlflow.trace.session']).toBe('00000000-0000-4000-c000-000000000001');
    expect(entry!.record.trace.metadata['mlflow.trace.user']).toBe('dev');
    expect(entry!.record.trace.spans).toHaveLength(4);
    expect(lines).toEqual([]);
  });

  it('reads no further than the transcript was when the hook ran: a later turn does not leak in', async () => {
    const spool = path.join(tmp.path, 'spool');
    const { stdin, transcript } = sampleWithSession(tmp.path, '00000000-0000-4000-c000-000000000002');
    const bytes = statSync(transcript).size;
    const file = writePending(spool, { version: 1, input: JSON.parse(stdin), target, bytes: { file: bytes } });
    // The next turn starts after the hook ran.
    appendFileSync(
      transcript,
      JSON.stringify({
        type: 'user',
        uuid: 'later-1',
        timestamp: new Date().toISOString(),
        sessionId: '00000000-0000-4000-c000-000000000002',
        message: { role: 'user', content: 'a later prompt' },
      }) + '\n',
    );
    age(file, 10_000);
    await adoptPending(spool, () => undefined);
    const [entry] = readSpool(spool).entries;
    expect(entry!.record.trace.requestPreview).not.toContain('a later prompt');
    expect(entry!.record.trace.spans).toHaveLength(4);
  });

  it('builds a young record at once when its hook is gone and its transcript is there (a hook that found no transcript yet)', async () => {
    const spool = path.join(tmp.path, 'spool');
    const { stdin, transcript } = sampleWithSession(tmp.path, '00000000-0000-4000-c000-000000000003');
    const later = `${transcript}.later`;
    renameSync(transcript, later);
    const gone = 2 ** 31 - 2; // above any pid_max: no such process
    const log = (): void => undefined;
    // Its hook still at work: left alone.
    writePending(spool, { version: 1, input: JSON.parse(stdin), target, bytes: {}, pid: process.pid });
    expect(await adoptPending(spool, log)).toBe(1);
    rmSync(listPending(spool)[0]!);
    // Its hook gone, but no transcript yet: left alone.
    writePending(spool, { version: 1, input: JSON.parse(stdin), target, bytes: {}, pid: gone });
    expect(await adoptPending(spool, log)).toBe(1);
    expect(readSpool(spool).entries).toEqual([]);
    // The transcript is there: built now.
    renameSync(later, transcript);
    expect(await adoptPending(spool, log)).toBe(0);
    expect(listPending(spool)).toEqual([]);
    expect(readSpool(spool).entries[0]!.record.trace.spans).toHaveLength(4);
  });

  it('logs a turn it cannot build (its transcript is gone) and drops the record', async () => {
    const spool = path.join(tmp.path, 'spool');
    const input = { session_id: 's', transcript_path: path.join(tmp.path, 'gone.jsonl'), hook_event_name: 'Stop' };
    age(writePending(spool, { version: 1, input, target, bytes: {} }), 10_000);
    const lines: string[] = [];
    expect(await adoptPending(spool, (level, message) => void lines.push(`${level} ${message}`))).toBe(0);
    expect(listPending(spool)).toEqual([]);
    expect(lines).toEqual([
      expect.stringMatching(/^error a turn a hook left to the delivery process cannot be traced: transcript not found: /),
    ]);
  });
});
