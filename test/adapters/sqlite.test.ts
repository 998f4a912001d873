/** SQLite maintenance through the venv's Python sqlite3, on real files and a real second writer. */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backup, integrityCheck, pageStats, probeWritable, sizeBytes, vacuum } from '../../src/adapters/sqlite.js';
import { holdExclusiveLock } from '../cleanup/fixtures.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

let dir: TempDir;
let db: string;
const tool = () => ({ python: venvBin('python') });

async function py(code: string, ...args: string[]): Promise<string> {
  return (await execa(venvBin('python'), ['-c', code, ...args])).stdout.trim();
}

beforeEach(async () => {
  dir = await makeTempDir('sqlite-');
  db = path.join(dir.path, 'it s #1?.db'); // spaces, '#' and '?' in the path
  await py(
    `
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
con.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 2000,) for _ in range(2000)])
con.commit()
`,
    db,
  );
});

afterEach(() => dir.cleanup());

describe('sqlite adapter', () => {
  it('backs up online into a private file that holds everything', async () => {
    const dest = path.join(dir.path, 'backup.db');
    await backup(tool(), db, dest);
    expect(statSync(dest).mode & 0o777).toBe(0o600);
    expect(await py('import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from t").fetchone()[0])', dest)).toBe(
      '2000',
    );
    expect(await integrityCheck(tool(), dest)).toEqual(['ok']);
  });

  it('refuses to overwrite an existing backup file', async () => {
    const dest = path.join(dir.path, 'taken.db');
    writeFileSync(dest, 'mine');
    await expect(backup(tool(), db, dest)).rejects.toThrow(/EEXIST/);
  });

  it('VACUUM gives freed pages back, and page stats see them', async () => {
    await py('import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("delete from t where id > 200"); c.commit()', db);
    const before = sizeBytes(db);
    const stats = await pageStats(tool(), db);
    expect(stats.freeBytes).toBeGreaterThan(before / 2);
    await vacuum(tool(), db);
    expect(sizeBytes(db)).toBeLessThan(before / 2);
    expect((await pageStats(tool(), db)).freeBytes).toBe(0);
    expect(await integrityCheck(tool(), db)).toEqual(['ok']);
  });

  it('sees a database locked by another writer, and does not wait forever', async () => {
    expect(await probeWritable(tool(), db, 500)).toEqual({ ok: true });
    const lock = await holdExclusiveLock(db);
    try {
      const started = Date.now();
      const probe = await probeWritable(tool(), db, 500);
      expect(probe.ok).toBe(false);
      expect(!probe.ok && probe.error).toMatch(/locked/);
      expect(Date.now() - started).toBeLessThan(10_000);
      await expect(vacuum(tool(), db, { busySeconds: 0.5 })).rejects.toThrow(/locked by another writer/);
    } finally {
      await lock.release();
    }
    expect(await probeWritable(tool(), db, 500)).toEqual({ ok: true });
  });

  it('a probe, a page count and an integrity check change nothing in the file', async () => {
    const read = (): string => createHash('sha256').update(readFileSync(db)).digest('hex');
    const before = read();
    await probeWritable(tool(), db);
    await pageStats(tool(), db);
    await integrityCheck(tool(), db);
    expect(read()).toBe(before);
  });
});
