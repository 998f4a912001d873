/**
 * python/migrate_worker.py on its own: its one-line request on stdin, its
 * JSON events on stdout, and its watchdog: once stdin closes (migrate is
 * gone), it exits at once with code 70, whatever it is doing. The copy itself
 * is tested in test/migrate/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { runScript, startScript } from './run-script.js';

let tmp: TempDir;

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-migrate-worker-');
});

afterAll(async () => {
  await tmp?.cleanup();
});

function request(sourceFile: string): string {
  return `${JSON.stringify({ mode: 'inspect', sourceFile, target: null })}\n`;
}

describe('the migration worker', () => {
  it('exits with 70 when its stdin closes after the request (while it loads MLflow)', async () => {
    const worker = startScript('migrate_worker', []);
    worker.stdin?.end(request(path.join(tmp.path, 'mlflow.db')));
    const r = await worker;
    expect(r.exitCode, String(r.stderr)).toBe(70);
    expect(String(r.stdout)).toBe('');
  });

  it('with stdin kept open: answers one JSON event (a missing source is an error, never a new file)', async () => {
    const missing = path.join(tmp.path, 'missing.db');
    const worker = startScript('migrate_worker', []);
    worker.stdin?.write(request(missing));
    const r = await worker;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const events = String(r.stdout)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; kind?: string; message?: string });
    expect(events).toEqual([{ event: 'error', kind: 'source', message: expect.stringContaining('unable to open database file') }]);
    expect(existsSync(missing)).toBe(false);
  });

  it('no request at all: exits with an error before it loads anything', async () => {
    const r = await runScript('migrate_worker', [], { input: '' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/JSONDecodeError/);
  });
});
