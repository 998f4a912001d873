/**
 * Settings files on disk: rescuing JSONC, refusing broken files with a
 * precise file:line:col, keeping the file's formatting and mode, backups,
 * and the lock that serialises edits.
 *
 * The lock and crash tests run child processes that import the COMPILED
 * modules from dist/ (`.ci/run` runs `npm run build` before the tests; the
 * tests do not build). Nothing here asserts on timing.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BACKUP_SUFFIX,
  backupsOf,
  deleteSettingsFile,
  loadSettings,
  removeBackupsHolding,
  renderSettings,
  saveSettings,
  SettingsError,
} from '../../src/adapters/settings-file.js';
import { LOCK_SUFFIX, withFileLock } from '../../src/adapters/file-lock.js';
import { applyTracing, HOOK_EVENTS, isOurHookCommand, type TracingSpec } from '../../src/core/settings.js';
import { readScope } from '../../src/services/settings-scan.js';
import { CliError } from '../../src/errors.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const distSettingsFile = pathToFileURL(path.join(repoRoot, 'dist', 'adapters', 'settings-file.js')).href;
const distFileLock = pathToFileURL(path.join(repoRoot, 'dist', 'adapters', 'file-lock.js')).href;
const distSettings = pathToFileURL(path.join(repoRoot, 'dist', 'core', 'settings.js')).href;

const SPEC: TracingSpec = {
  hookCommand: `/usr/bin/node '/home/u/.local/share/claude-mlflow/runtime/claude-mlflow-hook.mjs'`,
  timeoutSec: 5,
  env: {
    MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
    MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000',
    MLFLOW_EXPERIMENT_NAME: 'my-project',
  },
};

type Doc = Record<string, unknown>;

/** The conventional uid/gid of the unprivileged `nobody` user. */
const NOBODY = 65534;

let tmp: TempDir;
let file: string;

beforeEach(async () => {
  tmp = await makeTempDir();
  mkdirSync(path.join(tmp.path, '.claude'));
  file = path.join(tmp.path, '.claude', 'settings.json');
});

afterEach(async () => {
  await tmp.cleanup();
});

/** What init does: lock, load, apply, save. */
async function applyToFile(target = file): Promise<{ written: boolean; backup?: string }> {
  return withFileLock(target, () => {
    const loaded = loadSettings(target);
    return saveSettings(loaded, applyTracing(loaded.doc, SPEC).doc);
  });
}

/** How many of our hooks each event has. */
function ourHookCounts(doc: Doc): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [event, groups] of Object.entries((doc.hooks ?? {}) as Record<string, Doc[]>)) {
    for (const group of groups) {
      for (const hook of group.hooks as Doc[]) {
        if (typeof hook.command === 'string' && isOurHookCommand(hook.command)) counts[event] = (counts[event] ?? 0) + 1;
      }
    }
  }
  return counts;
}

const ONCE_EACH = Object.fromEntries(HOOK_EVENTS.map((event) => [event, 1]));

function filesIn(dir: string): string[] {
  return readdirSync(dir).sort();
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('loadSettings', () => {
  it('reads a missing file as an empty document', () => {
    expect(loadSettings(file)).toEqual({
      file,
      exists: false,
      doc: {},
      format: { indent: '  ', trailingNewline: true },
      strict: true,
      text: '',
    });
  });

  it.each(['', '  \n\n'])('reads an empty file (%j) as an empty document', (text) => {
    writeFileSync(file, text);
    expect(loadSettings(file)).toMatchObject({ exists: true, doc: {}, strict: true, text });
  });

  it('reads strict JSON as strict', () => {
    writeFileSync(file, '{\n  "model": "opus"\n}\n');
    expect(loadSettings(file)).toMatchObject({ doc: { model: 'opus' }, strict: true });
  });

  it.each([
    ['a line comment', '{\n  // my model\n  "model": "opus"\n}\n'],
    ['a block comment', '{\n  /* my\n     model */ "model": "opus"\n}\n'],
    ['a trailing comma', '{\n  "model": "opus",\n}\n'],
    ['a trailing comma in an array', '{\n  "model": "opus", "x": [1, 2,]\n}\n'],
  ])('rescues a file with %s (strict: false)', (_label, text) => {
    writeFileSync(file, text);
    const loaded = loadSettings(file);
    expect(loaded.strict).toBe(false);
    expect(loaded.doc.model).toBe('opus');
  });

  it.each([
    ['a missing comma', '{\n  "model": "opus"\n  "env": {}\n}\n', 3, 3, "expected ',' or '}'"],
    ['a missing value', '{\n  "a": 1,\n  "b": \n}\n', 4, 1, 'unexpected character "}"'],
    ['an empty array slot', '{\n  "a": [1,, 2]\n}', 2, 11, 'unexpected character ","'],
    ['a single-quoted string', "{\n\t'model': 'opus'\n}", 2, 2, 'expected a property name in double quotes'],
    ['an unterminated string', '{\n  "model": "opus\n}', 2, 12, 'unterminated string'],
    ['a raw tab in a string', '{\n  "model": "op\tus"\n}', 2, 15, 'control character'],
    ['an unterminated comment', '{\n  "model": "opus" /* note\n}', 2, 19, 'unterminated /* comment'],
    ['a truncated file', '{\n  "model": "opus",\n  "env": {', 3, 11, 'unexpected end of file'],
    ['text after the object', '{}\n{}', 2, 1, 'unexpected text after the end'],
    ['a bare word', '{\n  "a": yes\n}', 2, 8, 'unexpected character "y"'],
  ])('refuses %s with file:line:col', (_label, text, line, column, message) => {
    writeFileSync(file, text);
    const error = catchError(() => loadSettings(file));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error).toBeInstanceOf(CliError);
    const settingsError = error as SettingsError;
    expect(settingsError.exitCode).toBe(2);
    expect(settingsError.message.startsWith(`${file}:${line}:${column}: `)).toBe(true);
    expect(settingsError.message).toContain(message);
    expect({ line: settingsError.line, column: settingsError.column }).toEqual({ line, column });
  });

  it('refuses a top level that is not an object, at 1:1', () => {
    writeFileSync(file, '[\n  {"model": "opus"}\n]\n');
    expect(() => loadSettings(file)).toThrow(`${file}:1:1: `);
  });

  it('points at the "hooks" key when hooks has the wrong type (exit 2)', () => {
    writeFileSync(file, '{\n  "model": "opus",\n  // hooks\n    "hooks": ["Stop"]\n}\n');
    const error = catchError(() => loadSettings(file)) as SettingsError;
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`${file}:4:5: hooks must be an object of hook events`);
  });

  it('points at a nested shape problem', () => {
    writeFileSync(
      file,
      JSON.stringify({ model: 'x', hooks: { PreToolUse: [], Stop: [{ hooks: [] }, { matcher: '', hooks: 'echo' }] } }, null, 2),
    );
    const error = catchError(() => loadSettings(file)) as SettingsError;
    expect(error.message).toBe(`${file}:11:9: hooks.Stop[1].hooks must be an array of hooks`);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[10]!.slice(8)).toBe('"hooks": "echo"');
  });

  it.each([
    ['a byte order mark (not a column)', '\uFEFF{"a" 1}', 1, 6],
    ['a byte order mark, on a later line', '\uFEFF{\n  "a": 1\n  "b": 2\n}\n', 3, 3],
    ['CRLF line endings', '{\r\n  "a": 1\r\n  "b": 2\r\n}\r\n', 3, 3],
    ['a shape problem in a file with a byte order mark', '\uFEFF{\n  "hooks": []\n}\n', 2, 3],
    ['a shape problem in a CRLF file', '{\r\n  "x": 1,\r\n  "hooks": "a"\r\n}\r\n', 3, 3],
  ])('gives the position as an editor shows it, with %s', (_label, text, line, column) => {
    writeFileSync(file, text);
    const error = catchError(() => loadSettings(file)) as SettingsError;
    expect(error).toBeInstanceOf(SettingsError);
    expect({ line: error.line, column: error.column }).toEqual({ line, column });
    expect(error.message.startsWith(`${file}:${line}:${column}: `)).toBe(true);
  });
});

describe('duplicate keys', () => {
  it('refuses a key given twice, in one line naming file:line:col of the second one (exit 2)', () => {
    writeFileSync(file, '{"env":{"A":"1"},"env":{"B":"2"}}');
    const error = catchError(() => loadSettings(file)) as SettingsError;
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      `${file}:1:18: duplicate key "env": JSON keeps only the last value, so the one at 1:2 is lost; merge them by hand`,
    );
    expect(error.message).not.toContain('\n');
  });

  it('refuses a nested duplicate, in a JSONC file too', () => {
    writeFileSync(file, '{\n  // mine\n  "env": {\n    "A": "1",\n    "A": "2",\n  },\n}\n');
    const error = catchError(() => loadSettings(file)) as SettingsError;
    expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:5: duplicate key "A": .* at 4:5 is lost`));
  });

  it('writes nothing to a file with a duplicate key: no edit, no backup, no lock left', async () => {
    const text = '{\n  "model": "opus",\n  "model": "sonnet"\n}\n';
    writeFileSync(file, text);
    const error = await applyToFile().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SettingsError);
    expect((error as SettingsError).message.startsWith(`${file}:3:3: duplicate key "model"`)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(filesIn(path.dirname(file))).toEqual(['settings.json']);
  });

  it("is what doctor reports for that scope: a file it cannot use, with the duplicate's position", () => {
    writeFileSync(file, '{\n  "env": {"A": "1"},\n  "env": {"B": "2"}\n}\n');
    expect(readScope('project', file)).toEqual({
      scope: 'project',
      file,
      exists: true,
      parse: 'error',
      error: {
        line: 3,
        column: 3,
        detail: 'duplicate key "env": JSON keeps only the last value, so the one at 2:3 is lost; merge them by hand',
      },
    });
  });
});

describe('renderSettings', () => {
  it('renders strict JSON in the given indentation and trailing newline', () => {
    const doc = { a: [1, { b: 'c' }], d: {} };
    expect(renderSettings(doc, { indent: '\t', trailingNewline: false })).toBe(JSON.stringify(doc, null, '\t'));
    expect(renderSettings(doc, { indent: '    ', trailingNewline: true })).toBe(`${JSON.stringify(doc, null, 4)}\n`);
    expect(renderSettings(doc, { indent: '  ', trailingNewline: true, eol: '\r\n' })).toBe(
      `${JSON.stringify(doc, null, 2).replace(/\n/g, '\r\n')}\r\n`,
    );
  });
});

describe('saveSettings', () => {
  it('rescues a JSONC file: strict JSON out, the old text in .claude-mlflow.bak', async () => {
    const old = '{\n  // my settings\n  "model": "opus",\n  "permissions": { "allow": ["Bash(git status)",], },\n}\n';
    writeFileSync(file, old);
    const result = await applyToFile();
    expect(result).toEqual({ written: true, backup: `${file}${BACKUP_SUFFIX}` });
    const text = readFileSync(file, 'utf8');
    const doc = JSON.parse(text) as Doc;
    expect(doc.model).toBe('opus');
    expect(doc.permissions).toEqual({ allow: ['Bash(git status)'] });
    expect(ourHookCounts(doc)).toEqual(ONCE_EACH);
    expect(readFileSync(`${file}${BACKUP_SUFFIX}`, 'utf8')).toBe(old);
    expect(loadSettings(file).strict).toBe(true);
  });

  it('rewrites a JSONC file even when the document itself is unchanged (Claude Code ignores it as it is)', () => {
    writeFileSync(file, '{ "model": "opus", }');
    const loaded = loadSettings(file);
    expect(saveSettings(loaded, loaded.doc).written).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('{\n  "model": "opus"\n}');
  });

  it.each([
    ['tabs', '\t', true, '\n'],
    ['four spaces', '    ', true, '\n'],
    ['two spaces without a trailing newline', '  ', false, '\n'],
    ['CRLF line endings', '  ', true, '\r\n'],
  ] as const)('keeps the file format: %s', async (_label, indent, trailingNewline, eol) => {
    const user = { model: 'opus', permissions: { allow: ['Read'] } };
    let original = JSON.stringify(user, null, indent) + (trailingNewline ? '\n' : '');
    if (eol === '\r\n') original = original.replace(/\n/g, '\r\n');
    writeFileSync(file, original);
    await applyToFile();
    const text = readFileSync(file, 'utf8');
    const doc = JSON.parse(text) as Doc;
    let expected = JSON.stringify(doc, null, indent) + (trailingNewline ? '\n' : '');
    if (eol === '\r\n') expected = expected.replace(/\n/g, '\r\n');
    expect(text).toBe(expected);
    expect(text.split(eol)[1]!.startsWith(`${indent}"model"`)).toBe(true);
  });

  it('writes nothing the second time (no change, no new backup)', async () => {
    const original = '{\n  "model": "opus"\n}\n';
    writeFileSync(file, original);
    expect((await applyToFile()).written).toBe(true);
    const after = readFileSync(file, 'utf8');
    expect(await applyToFile()).toEqual({ written: false });
    expect(readFileSync(file, 'utf8')).toBe(after);
    expect(readFileSync(`${file}${BACKUP_SUFFIX}`, 'utf8')).toBe(original);
  });

  it('edits a strict file in place: numbers JavaScript cannot hold, key order and spacing stay; taking our keys out gives the same bytes', async () => {
    const original =
      '{\n    "big": 1e400, "long": 12345678901234567890,\n    "env": { "EDITOR": "vim" },\n    "hooks": { "SubagentStop": [] }\n}\n';
    writeFileSync(file, original);
    await applyToFile();
    const text = readFileSync(file, 'utf8');
    expect(
      text.startsWith(
        '{\n    "big": 1e400, "long": 12345678901234567890,\n    "env": { "EDITOR": "vim", "MLFLOW_CLAUDE_TRACING_ENABLED": "true"',
      ),
    ).toBe(true);
    expect(ourHookCounts(JSON.parse(text) as Doc)).toEqual(ONCE_EACH);
    const loaded = loadSettings(file);
    saveSettings(loaded, JSON.parse(original) as Doc);
    expect(readFileSync(file, 'utf8')).toBe(original);
  });

  it('never overwrites a backup: a new text gets a backup of its own, a text kept already gets none', () => {
    const texts = ['{"a": 1}\n', '{"a": 2}\n', '{"a": 3}\n'];
    writeFileSync(file, texts[0]!);
    for (const a of [2, 3, 1, 2]) saveSettings(loadSettings(file), { a });
    expect(backupsOf(file)).toEqual([`${file}${BACKUP_SUFFIX}`, `${file}.claude-mlflow.1.bak`, `${file}.claude-mlflow.2.bak`]);
    expect(backupsOf(file).map((b) => readFileSync(b, 'utf8'))).toEqual(texts);
    for (const b of backupsOf(file)) expect(statSync(b).mode & 0o777).toBe(0o600);
  });

  it('removeBackupsHolding deletes only the backups that hold the secret', () => {
    writeFileSync(file, '{"env": {}}\n');
    saveSettings(loadSettings(file), { env: { MLFLOW_TRACKING_TOKEN: 'tok-\\"1' } });
    saveSettings(loadSettings(file), { env: {} });
    expect(backupsOf(file)).toHaveLength(2);
    expect(removeBackupsHolding(file, ['tok-\\"1'])).toEqual([`${file}.claude-mlflow.1.bak`]);
    expect(backupsOf(file)).toEqual([`${file}${BACKUP_SUFFIX}`]);
    expect(readFileSync(`${file}${BACKUP_SUFFIX}`, 'utf8')).toBe('{"env": {}}\n');
  });

  it('does not reformat a strict file when the document is unchanged', () => {
    const original = '{"model": "opus", "permissions": {"allow": ["Read"]}}';
    writeFileSync(file, original);
    const loaded = loadSettings(file);
    expect(saveSettings(loaded, structuredClone(loaded.doc))).toEqual({ written: false });
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(existsSync(`${file}${BACKUP_SUFFIX}`)).toBe(false);
  });

  it('creates a missing file (and its folder) with no backup', async () => {
    const nested = path.join(tmp.path, 'project', '.claude', 'settings.json');
    const result = await applyToFile(nested);
    expect(result).toEqual({ written: true });
    expect(ourHookCounts(JSON.parse(readFileSync(nested, 'utf8')) as Doc)).toEqual(ONCE_EACH);
    expect(filesIn(path.dirname(nested))).toEqual(['settings.json']);
    expect(statSync(nested).mode & 0o022).toBe(0o644 & 0o022 & ~process.umask());
    expect(statSync(nested).mode & 0o444).toBe(0o444);
  });

  it('keeps a byte order mark', async () => {
    writeFileSync(file, '\uFEFF{\n    "model": "opus"\n}\n');
    expect(loadSettings(file).doc).toEqual({ model: 'opus' });
    await applyToFile();
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('\uFEFF{\n    "model": "opus",\n')).toBe(true);
    expect(JSON.parse(text.slice(1))).toMatchObject({ model: 'opus' });
  });

  it('takes the indentation from the keys, not from a comment', () => {
    writeFileSync(file, '/*\n * my settings\n */\n{\n\t"model": "opus"\n}\n');
    expect(loadSettings(file).format.indent).toBe('\t');
  });

  it('does not create an empty file for an empty document', () => {
    expect(saveSettings(loadSettings(file), {})).toEqual({ written: false });
    expect(existsSync(file)).toBe(false);
  });

  it("keeps the file's mode; the backup is private", async () => {
    writeFileSync(file, '{}\n');
    chmodSync(file, 0o640);
    await applyToFile();
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(statSync(`${file}${BACKUP_SUFFIX}`).mode & 0o777).toBe(0o600);
  });

  it('writes through a symlink instead of replacing it', async () => {
    const dotfiles = path.join(tmp.path, 'dotfiles');
    mkdirSync(dotfiles);
    const real = path.join(dotfiles, 'claude-settings.json');
    writeFileSync(real, '{"model": "opus"}\n');
    symlinkSync(real, file);
    await applyToFile();
    expect(lstatSync(file).isSymbolicLink()).toBe(true);
    expect(readlinkSync(file)).toBe(real);
    expect(ourHookCounts(JSON.parse(readFileSync(real, 'utf8')) as Doc)).toEqual(ONCE_EACH);
  });

  it('refuses to write when the file changed since it was loaded', () => {
    writeFileSync(file, '{"model": "opus"}\n');
    const loaded = loadSettings(file);
    writeFileSync(file, '{"model": "sonnet"}\n');
    expect(() => saveSettings(loaded, applyTracing(loaded.doc, SPEC).doc)).toThrow(/changed while/);
    expect(readFileSync(file, 'utf8')).toBe('{"model": "sonnet"}\n');
    expect(existsSync(`${file}${BACKUP_SUFFIX}`)).toBe(false);
  });

  it('writes nothing when the file has a syntax error', async () => {
    const broken = '{\n  "model": "opus"\n  "env": {}\n}\n';
    writeFileSync(file, broken);
    const error = await applyToFile().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SettingsError);
    expect((error as SettingsError).message.startsWith(`${file}:3:3: `)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(broken);
    expect(filesIn(path.dirname(file))).toEqual(['settings.json']);
  });

  const asRoot = process.getuid?.() === 0;
  // Root bypasses permissions, so this cannot be tested as root.
  it.skipIf(asRoot || process.platform === 'win32')('fails, writing nothing, when the folder is not writable', async () => {
    const original = '{\n  "model": "opus"\n}\n';
    writeFileSync(file, original);
    const dir = path.dirname(file);
    chmodSync(dir, 0o555);
    try {
      const loaded = loadSettings(file);
      const error = catchError(() => saveSettings(loaded, applyTracing(loaded.doc, SPEC).doc));
      expect(error).toBeInstanceOf(CliError);
      expect((error as Error).message).toMatch(/permission denied/);
      await expect(applyToFile()).rejects.toThrow(/lock file/);
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(filesIn(dir)).toEqual(['settings.json']);
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});

describe('saveSettings as an unprivileged user', () => {
  // Root bypasses permissions; when the tests run as root (CI containers), run
  // the same scenario in a child process that drops to the nobody user.
  it.skipIf(process.getuid?.() !== 0 || process.platform === 'win32')(
    'fails, writing nothing, when the folder is not writable',
    async () => {
      const original = '{\n  "model": "opus"\n}\n';
      writeFileSync(file, original);
      const dir = path.dirname(file);
      chmodSync(tmp.path, 0o755);
      chownSync(dir, NOBODY, NOBODY);
      chmodSync(dir, 0o555);
      const script = `
        import { loadSettings, saveSettings } from ${JSON.stringify(distSettingsFile)};
        import { withFileLock } from ${JSON.stringify(distFileLock)};
        import { applyTracing } from ${JSON.stringify(distSettings)};
        const [file] = process.argv.slice(1);
        const report = [];
        const loaded = loadSettings(file);
        try { saveSettings(loaded, applyTracing(loaded.doc, ${JSON.stringify(SPEC)}).doc); report.push('saved'); }
        catch (error) { report.push(error.constructor.name + ' ' + error.exitCode + ' ' + error.message); }
        try { await withFileLock(file, () => undefined); report.push('locked'); }
        catch (error) { report.push(error.constructor.name + ' ' + error.exitCode + ' ' + error.message); }
        process.stdout.write(JSON.stringify(report));
      `;
      const { done } = runNode(script, [file], { uid: NOBODY, gid: NOBODY });
      const result = await done;
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const [save, lock] = JSON.parse(result.stdout) as string[];
      expect(save).toMatch(/^CliError 1 cannot write .*settings\.json \(permission denied\)/);
      expect(lock).toMatch(/^CliError 1 cannot create the lock file .*settings\.json\.claude-mlflow\.lock/);
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(filesIn(dir)).toEqual(['settings.json']);
      chmodSync(dir, 0o755);
    },
  );
});

describe('deleteSettingsFile', () => {
  it('deletes the file and keeps its text in the backup', () => {
    writeFileSync(file, '{"env": {}}\n');
    deleteSettingsFile(file);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${file}${BACKUP_SUFFIX}`, 'utf8')).toBe('{"env": {}}\n');
  });

  it('does nothing for a missing file', () => {
    deleteSettingsFile(file);
    expect(filesIn(path.dirname(file))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Locking

/** Run `script` (an ES module) with node; resolves with its exit code and output. */
function runNode(
  script: string,
  args: string[] = [],
  user: { uid?: number; gid?: number } = {},
): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...user });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => {
      // 'exit' can fire before the pipes are drained: wait for 'close'.
      child.on('close', () => resolve({ code, signal, stdout, stderr }));
    });
  });
  return { child, done };
}

/** Resolves when the child has printed `line`. */
function waitForLine(child: ReturnType<typeof spawn>, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.split('\n').includes(line)) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${line}`)));
  });
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const { child, done } = runNode('');
  await done;
  return child.pid!;
}

const LOCKED_APPLY_CHILD = `
import { loadSettings, saveSettings } from ${JSON.stringify(distSettingsFile)};
import { withFileLock } from ${JSON.stringify(distFileLock)};
import { applyTracing } from ${JSON.stringify(distSettings)};
const [file, id] = process.argv.slice(1);
const spec = ${JSON.stringify(SPEC)};
process.stdout.write('ready\\n');
process.stdin.once('data', async () => {
  await withFileLock(file, () => {
    const loaded = loadSettings(file);
    const { doc } = applyTracing(loaded.doc, spec);
    // One key of its own: an update lost to a race would lose it.
    doc.env['CHILD_' + id] = id;
    saveSettings(loaded, doc);
  }, { timeoutMs: 60000 });
  process.exit(0);
});
`;

describe('withFileLock', () => {
  it('serialises 20 processes editing one file: valid JSON, our hook once per event, no update lost, no lock left', async () => {
    writeFileSync(file, '{\n  "model": "opus",\n  "env": {\n    "USER_VAR": "u"\n  }\n}\n');
    const children = Array.from({ length: 20 }, (_, id) => runNode(LOCKED_APPLY_CHILD, [file, String(id)]));
    await Promise.all(children.map(({ child }) => waitForLine(child, 'ready')));
    for (const { child } of children) child.stdin!.write('go\n');
    const results = await Promise.all(children.map(({ done }) => done));
    for (const result of results) expect(result).toMatchObject({ code: 0, stderr: '' });

    const doc = JSON.parse(readFileSync(file, 'utf8')) as Doc;
    expect(ourHookCounts(doc)).toEqual(ONCE_EACH);
    const env = doc.env as Record<string, string>;
    expect(env.USER_VAR).toBe('u');
    expect(
      Object.keys(env)
        .filter((key) => key.startsWith('CHILD_'))
        .sort(),
    ).toEqual(Array.from({ length: 20 }, (_, id) => `CHILD_${id}`).sort());
    expect(existsSync(`${file}${LOCK_SUFFIX}`)).toBe(false);
    expect(filesIn(path.dirname(file)).filter((name) => name.includes('lock'))).toEqual([]);
  });

  it('serialises callers in one process', async () => {
    const events: string[] = [];
    let releaseFirst!: () => void;
    const firstMayEnd = new Promise<void>((resolve) => (releaseFirst = resolve));
    const first = withFileLock(file, async () => {
      events.push('first start');
      await firstMayEnd;
      events.push('first end');
    });
    const second = withFileLock(file, () => {
      events.push('second');
    });
    setTimeout(releaseFirst, 50);
    await Promise.all([first, second]);
    expect(events).toEqual(['first start', 'first end', 'second']);
  });

  it('releases the lock when the work throws', async () => {
    await expect(withFileLock(file, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(`${file}${LOCK_SUFFIX}`)).toBe(false);
  });

  it('breaks a stale lock whose process is gone', async () => {
    writeFileSync(`${file}${LOCK_SUFFIX}`, `${await deadPid()}\n`);
    await expect(withFileLock(file, () => 'ran', { timeoutMs: 10_000 })).resolves.toBe('ran');
    expect(existsSync(`${file}${LOCK_SUFFIX}`)).toBe(false);
  });

  it('breaks a lock older than 30 s even when its process runs', async () => {
    const lock = `${file}${LOCK_SUFFIX}`;
    writeFileSync(lock, `${process.pid}\n`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await expect(withFileLock(file, () => 'ran', { timeoutMs: 10_000 })).resolves.toBe('ran');
  });

  it('breaks an empty lock left by a writer that died before writing its pid', async () => {
    const lock = `${file}${LOCK_SUFFIX}`;
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 10_000);
    utimesSync(lock, old, old);
    await expect(withFileLock(file, () => 'ran', { timeoutMs: 10_000 })).resolves.toBe('ran');
  });

  it('times out on a live lock with an error naming the lock file, and leaves that lock alone', async () => {
    const lock = `${file}${LOCK_SUFFIX}`;
    const content = `${process.pid}\n`;
    writeFileSync(lock, content);
    const error = await withFileLock(file, () => 'ran', { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(1);
    expect((error as CliError).message).toContain(lock);
    expect(readFileSync(lock, 'utf8')).toBe(content);
  });

  it('removes a folder it created for the lock when nothing was written there', async () => {
    const project = path.join(tmp.path, 'project');
    mkdirSync(project);
    await withFileLock(path.join(project, '.claude', 'settings.json'), () => undefined);
    expect(filesIn(project)).toEqual([]);
  });
});

const KILLS = 12;

/** Applies tracing with a new tracking URI each round, forever, under the lock; says "ready" after the first round. */
const CRASH_CHILD = `
import { loadSettings, saveSettings } from ${JSON.stringify(distSettingsFile)};
import { withFileLock } from ${JSON.stringify(distFileLock)};
import { applyTracing } from ${JSON.stringify(distSettings)};
const [file, mode] = process.argv.slice(1);
const spec = ${JSON.stringify(SPEC)};
for (let round = 0; ; round++) {
  await withFileLock(file, () => {
    const loaded = loadSettings(file);
    const uri = 'http://127.0.0.1:' + (5000 + Math.floor(Math.random() * 1000));
    const { doc } = applyTracing(loaded.doc, { ...spec, env: { ...spec.env, MLFLOW_TRACKING_URI: uri } });
    saveSettings(loaded, doc);
  }, { timeoutMs: 60000 });
  if (round === 0) process.stdout.write('ready\\n');
  if (mode === 'once') break;
}
`;

describe('crash safety', () => {
  it('a process killed while holding the lock and writing leaves old-or-new valid JSON, and the next one gets the lock', async () => {
    // A big file makes each write take long enough for kills to land mid-write.
    const padding = 'x'.repeat(2_000_000);
    writeFileSync(file, `${JSON.stringify({ model: 'opus', padding }, null, 2)}\n`);
    const check = (text: string): void => {
      const doc = JSON.parse(text) as Doc;
      expect(doc.padding).toBe(padding);
      expect(doc.model).toBe('opus');
    };
    for (let kill = 0; kill < KILLS; kill++) {
      const { child, done } = runNode(CRASH_CHILD, [file, 'loop']);
      await waitForLine(child, 'ready');
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Doc;
      check(readFileSync(file, 'utf8'));
      expect(ourHookCounts(doc)).toEqual(ONCE_EACH);
      expect((doc.env as Record<string, string>).MLFLOW_TRACKING_URI).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      check(readFileSync(`${file}${BACKUP_SUFFIX}`, 'utf8'));
    }
    const last = runNode(CRASH_CHILD, [file, 'once']);
    expect(await last.done).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(`${file}${LOCK_SUFFIX}`)).toBe(false);
    check(readFileSync(file, 'utf8'));
  });
});
