import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidsHolding, userName } from '../../src/adapters/linux-proc.js';

describe.skipIf(process.platform !== 'linux')('linux-proc', () => {
  it('pidsHolding finds this process holding a file open, and nobody holding one that is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linux-proc-'));
    const file = join(dir, 'held');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      expect(await pidsHolding([file])).toContain(process.pid);
    } finally {
      closeSync(fd);
    }
    expect(await pidsHolding([file])).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('userName: a name from /etc/passwd, else the uid itself', async () => {
    expect(await userName(0)).toBe('root');
    expect(await userName(2_000_000_000)).toBe('2000000000');
  });
});
