/**
 * writeFileAtomic: a reader, or a crash, sees the old file or the new one,
 * never a torn one.
 *
 * The crash test kills a child process that imports the compiled module from
 * dist/ (`.ci/run` runs `npm run build` before the tests; the test does not
 * build). Kill times are random; nothing here asserts on timing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir, tempPathFor, writeFileAtomic } from '../../src/adapters/fs-atomic.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const distFsAtomic = path.join(repoRoot, 'dist', 'adapters', 'fs-atomic.js');

const SIZE = 5 * 1024 * 1024;
const KILLS = 15;

/** Writes A, says "ready", then writes B, A, B, ... to $TARGET until killed. */
const CHILD = `
import { writeFileAtomic } from ${JSON.stringify(pathToFileURL(distFsAtomic).href)};
const target = process.env.TARGET;
const A = Buffer.alloc(${SIZE}, 'a');
const B = Buffer.alloc(${SIZE}, 'b');
writeFileAtomic(target, A);
process.stdout.write('ready\\n');
for (let i = 1; ; i += 1) writeFileAtomic(target, i % 2 ? B : A);
`;

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

/** Start the writer, wait until the target exists, let it run a random while, SIGKILL it. */
async function runAndKill(target: string, delayMs: number): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, TARGET: target },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited early (code ${code}): ${stderr}`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  return exited;
}

describe('writeFileAtomic', () => {
  it('leaves exactly the old or the new content when the writer is SIGKILLed', async () => {
    expect(existsSync(distFsAtomic), `${distFsAtomic} is missing: run npm run build first`).toBe(true);
    const target = path.join(tmp.path, 'state.bin');
    const A = Buffer.alloc(SIZE, 'a');
    const B = Buffer.alloc(SIZE, 'b');
    const seen = { a: 0, b: 0 };
    for (let i = 0; i < KILLS; i += 1) {
      const signal = await runAndKill(target, Math.floor(Math.random() * 300));
      expect(signal).toBe('SIGKILL');
      const data = readFileSync(target);
      const isA = data.equals(A);
      const isB = data.equals(B);
      const what = `kill ${i + 1}: ${data.length} bytes, first ${JSON.stringify(data.subarray(0, 1).toString())}, last ${JSON.stringify(
        data.subarray(-1).toString(),
      )}`;
      expect(isA || isB, what).toBe(true);
      if (isA) seen.a += 1;
      if (isB) seen.b += 1;
      expect(statSync(target).mode & 0o777).toBe(0o600);
      // Only the target and (from interrupted writes) hidden temp files are there.
      for (const name of readdirSync(tmp.path)) {
        if (name !== 'state.bin') expect(name).toMatch(/^\.state\.bin\.\d+\.\d+\.tmp$/);
      }
    }
    expect(seen.a + seen.b).toBe(KILLS);
  });

  it('replaces a file with mode 0600 and leaves no temp file', () => {
    const target = path.join(tmp.path, 'config.json');
    writeFileAtomic(target, 'one');
    writeFileAtomic(target, new TextEncoder().encode('two 👋'));
    expect(readFileSync(target, 'utf8')).toBe('two 👋');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(tmp.path)).toEqual(['config.json']);
  });

  it('throws when the target folder is missing, and leaves no temp file', () => {
    const target = path.join(tmp.path, 'missing', 'file.json');
    expect(() => writeFileAtomic(target, 'x')).toThrow(/ENOENT/);
    expect(existsSync(path.dirname(target))).toBe(false);
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  it('throws when the rename fails, and removes its temp file', () => {
    // The target is a non-empty folder: the temp file is written, the rename fails.
    const target = path.join(tmp.path, 'occupied');
    mkdirSync(target);
    writeFileAtomic(path.join(target, 'inside'), 'keep me');
    expect(() => writeFileAtomic(target, 'x')).toThrow();
    expect(readdirSync(tmp.path)).toEqual(['occupied']);
    expect(readFileSync(path.join(target, 'inside'), 'utf8')).toBe('keep me');
  });

  it('puts the temp file beside the target, hidden', () => {
    const temp = tempPathFor('/some/dir/file.json');
    expect(path.dirname(temp)).toBe('/some/dir');
    expect(path.basename(temp)).toMatch(new RegExp(`^\\.file\\.json\\.${process.pid}\\.\\d+\\.tmp$`));
  });
});

describe('ensurePrivateDir', () => {
  it('creates the folder and its parents with mode 0700, and accepts an existing one', () => {
    const dir = path.join(tmp.path, 'a', 'b', 'c');
    ensurePrivateDir(dir);
    ensurePrivateDir(dir);
    for (const d of [path.join(tmp.path, 'a'), path.join(tmp.path, 'a', 'b'), dir]) {
      expect(statSync(d).mode & 0o777).toBe(0o700);
    }
  });
});
