/** `flush` where nothing was ever spooled: nothing to deliver, and nothing created. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runFlush } from '../../src/hook/run-flush.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir | undefined;
afterEach(async () => {
  await tmp?.cleanup();
  tmp = undefined;
});

describe('flush with no spool folder', () => {
  it('says the spool is empty, exits 0, and creates no folder or lock', async () => {
    tmp = await makeTempDir();
    const dataRoot = path.join(tmp.path, 'data');
    const lines: string[] = [];
    const code = await runFlush({ dataRoot, env: {}, print: (line) => lines.push(line), json: false, timeoutSeconds: 1 });
    expect(code).toBe(0);
    expect(lines).toEqual(['Spool is empty: nothing to deliver.']);
    expect(existsSync(dataRoot)).toBe(false);
  });

  it('--json says 0 waiting and 0 delivered', async () => {
    tmp = await makeTempDir();
    const lines: string[] = [];
    const code = await runFlush({
      dataRoot: path.join(tmp.path, 'data'),
      env: {},
      print: (line) => lines.push(line),
      json: true,
      timeoutSeconds: 1,
    });
    expect(code).toBe(0);
    expect(JSON.parse(lines[0]!)).toEqual({ waiting: 0, delivered: 0, remaining: 0, unreadable: [], rejected: [] });
  });
});
