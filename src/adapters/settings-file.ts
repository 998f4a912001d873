/**
 * Reading and writing Claude Code settings files.
 *
 * Claude Code ignores a settings file WHOLE, silently, when it has a comment
 * or a trailing comma. So we read JSONC (core/jsonc.ts, to rescue such a
 * file) but always write strict JSON, in the file's own indentation, with a
 * backup of the old text beside it. Callers serialise their edits with
 * withFileLock (adapters/file-lock.ts), a lock file beside the settings.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isObject } from '../core/is-object.js';
import { editJsonText } from '../core/json-text-edit.js';
import { JsoncError, lineColumn, locate, parseJsonc } from '../core/jsonc.js';
import { CliError, EXIT } from '../errors.js';
import { shapeProblem } from '../core/settings.js';
import { removeDeadTempFiles, writeFileAtomic } from './fs-atomic.js';

export class SettingsError extends CliError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`, EXIT.usage);
    this.name = 'SettingsError';
  }
}

export interface SettingsFormat {
  indent: string;
  trailingNewline: boolean;
  /** Line ending of the original file (default '\n'). */
  eol?: '\n' | '\r\n';
  /** The original file started with a UTF-8 byte order mark. */
  bom?: boolean;
}

export interface LoadedSettings {
  file: string;
  exists: boolean;
  doc: Record<string, unknown>;
  format: SettingsFormat;
  /** false if the file needed JSONC (comments or trailing commas): Claude Code ignores such a file. */
  strict: boolean;
  /** The file's text exactly as read ('' when missing). */
  text: string;
}

export const BACKUP_SUFFIX = '.claude-mlflow.bak';

const DEFAULT_FORMAT: SettingsFormat = { indent: '  ', trailingNewline: true };

// ---------------------------------------------------------------------------
// Loading

function detectFormat(raw: string): SettingsFormat {
  // The first indented key tells the indentation; any indented line will do otherwise.
  const lead = /\n([ \t]+)"/.exec(raw)?.[1] ?? /\n([ \t]+)\S/.exec(raw)?.[1];
  const indent = lead === undefined ? DEFAULT_FORMAT.indent : lead.startsWith('\t') ? '\t' : ' '.repeat(Math.min(lead.length, 10));
  const format: SettingsFormat = {
    indent,
    trailingNewline: raw.trim() === '' || raw.endsWith('\n'),
  };
  if (raw.includes('\r\n')) format.eol = '\r\n';
  if (raw.startsWith('\uFEFF')) format.bom = true;
  return format;
}

/** Parse the text as JSONC. Throws SettingsError with the position. */
function parseText(file: string, text: string): { value: unknown; strict: boolean } {
  try {
    const { value, relaxed } = parseJsonc(text);
    return { value, strict: !relaxed };
  } catch (error) {
    if (!(error instanceof JsoncError)) throw error;
    const { line, column } = lineColumn(text, error.offset);
    throw new SettingsError(file, line, column, error.message);
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, EXIT.failure);
  }
}

/**
 * Read a settings file. A missing file is an empty document. A file with
 * comments or trailing commas is rescued (strict: false). A syntax error,
 * a key given twice in one object (Claude Code would silently keep only the
 * last), a top level that is not an object, or a shape we cannot edit safely
 * (see shapeProblem) throws SettingsError with the file's line and column.
 */
export function loadSettings(file: string): LoadedSettings {
  const raw = readText(file);
  if (raw === undefined) return { file, exists: false, doc: {}, format: { ...DEFAULT_FORMAT }, strict: true, text: '' };
  const format = detectFormat(raw);
  const text = format.bom ? raw.slice(1) : raw;
  if (text.trim() === '') return { file, exists: true, doc: {}, format, strict: true, text: raw };
  const { value, strict } = parseText(file, text);
  if (!isObject(value)) throw new SettingsError(file, 1, 1, 'the settings must be a JSON object ({ ... })');
  const found = shapeProblem(value);
  if (found) {
    const { line, column } = lineColumn(text, locate(text, found.segments) ?? 0);
    throw new SettingsError(file, line, column, found.message);
  }
  return { file, exists: true, doc: value, format, strict, text: raw };
}

// ---------------------------------------------------------------------------
// Writing

/** Strict JSON in the file's indentation, line ending and trailing newline. */
export function renderSettings(doc: Record<string, unknown>, format: SettingsFormat): string {
  let out = JSON.stringify(doc, null, format.indent);
  if (format.trailingNewline) out += '\n';
  if (format.eol === '\r\n') out = out.replace(/\n/g, '\r\n');
  return format.bom ? `\uFEFF${out}` : out;
}

/** The backups of `file`, oldest first: `<file>.claude-mlflow.bak`, then `<file>.claude-mlflow.1.bak`, `.2.bak`, … */
export function backupsOf(file: string): string[] {
  const dir = dirname(file);
  const name = basename(file);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const numbered = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.claude-mlflow\\.(\\d+)\\.bak$`);
  const extra = entries
    .map((entry) => ({ entry, n: Number(numbered.exec(entry)?.[1]) }))
    .filter((e) => Number.isInteger(e.n))
    .sort((a, b) => a.n - b.n)
    .map((e) => join(dir, e.entry));
  return [...(entries.includes(`${name}${BACKUP_SUFFIX}`) ? [`${file}${BACKUP_SUFFIX}`] : []), ...extra];
}

/**
 * Keep `text` in a backup of `file` (0600) that nothing overwrites: the
 * first goes to `<file>.claude-mlflow.bak`, later ones to
 * `<file>.claude-mlflow.<n>.bak`, and none is written when a backup holds
 * this text already. Returns the backup that holds it.
 */
function keepBackup(file: string, text: string): string {
  const existing = backupsOf(file);
  const same = existing.find((backup) => readText(backup) === text);
  if (same) return same;
  let backup = `${file}${BACKUP_SUFFIX}`;
  for (let n = 1; existsSync(backup); n++) backup = `${file}.claude-mlflow.${n}.bak`;
  replaceFile(backup, text, 0o600);
  return backup;
}

/** Delete the backups of `file` that hold any of `secrets` (credentials we saved in it, once they are removed). */
export function removeBackupsHolding(file: string, secrets: readonly string[]): string[] {
  const wanted = secrets.filter((secret) => secret.length > 0);
  if (wanted.length === 0) return [];
  const removed: string[] = [];
  for (const backup of backupsOf(file)) {
    const text = readText(backup);
    if (text !== undefined && wanted.some((secret) => text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1)))) {
      rmSync(backup, { force: true });
      removed.push(backup);
    }
  }
  return removed;
}

/**
 * The new text of the file: a strict JSON file is edited in place (only our
 * keys change; the user's bytes stay); a new, empty or rescued file is
 * rendered whole, as strict JSON.
 */
function settingsText(loaded: LoadedSettings, doc: Record<string, unknown>): string {
  const bom = loaded.format.bom ? '\uFEFF' : '';
  const body = bom ? loaded.text.slice(1) : loaded.text;
  if (!loaded.exists || !loaded.strict || body.trim() === '') return renderSettings(doc, loaded.format);
  return bom + editJsonText(body, loaded.doc, doc, loaded.format);
}

function failedWrite(file: string, error: unknown): CliError {
  if (error instanceof CliError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const hint = code === 'EACCES' || code === 'EPERM' ? ' (permission denied)' : '';
  return new CliError(`cannot write ${file}${hint}: ${(error as Error).message}; the file was not changed`, EXIT.failure);
}

/** Write `text` over `target` atomically, keeping `mode` (never more open than it, even for an instant). */
function replaceFile(target: string, text: string, mode: number): void {
  writeFileAtomic(target, text, mode);
  if ((statSync(target).mode & 0o7777) !== mode) chmodSync(target, mode);
}

function sameDocument(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Save `doc` over the file `loaded` came from. Nothing is written when the
 * rendered text equals the file's text, or when the file was strict JSON and
 * the document is unchanged (no reformatting for nothing). Otherwise the old
 * text goes to `<file>.claude-mlflow.bak` first. Refuses (nothing written)
 * when the file changed on disk since it was loaded.
 */
export function saveSettings(loaded: LoadedSettings, doc: Record<string, unknown>): { written: boolean; backup?: string } {
  const { file } = loaded;
  const text = settingsText(loaded, doc);
  const unchanged = loaded.exists
    ? text === loaded.text || (loaded.strict && sameDocument(doc, loaded.doc))
    : Object.keys(doc).length === 0;
  if (unchanged) return { written: false };
  if (readText(file) !== (loaded.exists ? loaded.text : undefined)) {
    throw new CliError(`${file} changed while claude-mlflow was editing it; nothing was written. Run the command again.`);
  }
  removeDeadTempFiles(dirname(file), basename(file));
  try {
    if (!loaded.exists) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      writeFileAtomic(file, text, 0o644);
      return { written: true };
    }
    const target = realpathSync(file);
    const mode = statSync(target).mode & 0o7777;
    const backup = keepBackup(file, loaded.text);
    replaceFile(target, text, mode);
    return { written: true, backup };
  } catch (error) {
    throw failedWrite(file, error);
  }
}

/** Delete a settings file, keeping its text in a backup (see keepBackup). */
export function deleteSettingsFile(file: string): void {
  const text = readText(file);
  if (text === undefined) return;
  removeDeadTempFiles(dirname(file), basename(file));
  try {
    keepBackup(file, text);
    unlinkSync(file);
  } catch (error) {
    throw failedWrite(file, error);
  }
}
