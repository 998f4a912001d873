/**
 * Every Claude Code settings scope, read the way Claude Code reads it:
 * strict JSON or nothing. A file with a comment or a trailing comma is read
 * anyway (JSONC, through loadSettings) so that doctor can say what is in it,
 * but it is marked `relaxed`: Claude Code ignores it whole.
 */
import { basename, dirname, join } from 'node:path';
import { loadSettings, SettingsError } from '../adapters/settings-file.js';
import { firstRelaxation } from '../core/jsonc.js';
import type { ScopeSettings, SettingsFacts } from '../core/checks/facts.js';
import type { SettingsScope } from '../core/scopes.js';
import { secretEnvKeys } from '../core/checks/settings-derived.js';
import { settingsPath } from '../core/scopes.js';
import { runProcess } from '../adapters/process.js';

/** Where the managed (enterprise) settings live on this platform. */
export function managedSettingsPath(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (platform === 'darwin') return '/Library/Application Support/ClaudeCode/managed-settings.json';
  if (platform === 'linux') return '/etc/claude-code/managed-settings.json';
  if (platform === 'win32') return join(env.ProgramFiles ?? 'C:\\Program Files', 'ClaudeCode', 'managed-settings.json');
  return undefined;
}

export function readScope(scope: SettingsScope, file: string): ScopeSettings {
  try {
    const loaded = loadSettings(file);
    if (!loaded.exists) return { scope, file, exists: false, parse: 'missing' };
    if (loaded.strict) return { scope, file, exists: true, parse: 'ok', doc: loaded.doc };
    const relaxed = firstRelaxation(loaded.text) ?? { line: 1, column: 1, kind: 'comment' as const };
    return { scope, file, exists: true, parse: 'relaxed', relaxed, doc: loaded.doc };
  } catch (error) {
    if (error instanceof SettingsError) {
      return { scope, file, exists: true, parse: 'error', error: { line: error.line, column: error.column, detail: error.detail } };
    }
    return { scope, file, exists: true, parse: 'error', error: { line: 1, column: 1, detail: (error as Error).message } };
  }
}

export interface ScopeFiles {
  project: string;
  home: string;
  /** null: no managed settings on this platform; undefined: the platform's default. */
  managedFile?: string | null;
  platform?: NodeJS.Platform;
}

export function scopeFiles(options: ScopeFiles): Array<{ scope: SettingsScope; file: string }> {
  const managed = options.managedFile === undefined ? managedSettingsPath(options.platform) : options.managedFile;
  const all: Array<{ scope: SettingsScope; file: string }> = [
    ...(managed ? [{ scope: 'managed' as const, file: managed }] : []),
    { scope: 'local', file: settingsPath('local', options.project, options.home) },
    { scope: 'project', file: settingsPath('project', options.project, options.home) },
    { scope: 'user', file: settingsPath('user', options.project, options.home) },
  ];
  // Run from the home folder, the project's settings ARE the user's: count that file once, as user.
  return all.filter((s, i) => !all.some((t, j) => j > i && t.file === s.file));
}

/** Every scope; a managed file that does not exist is left out. */
export function readAllScopes(options: ScopeFiles): SettingsFacts {
  const scopes = scopeFiles(options)
    .map(({ scope, file }) => readScope(scope, file))
    .filter((s) => s.scope !== 'managed' || s.exists);
  return { scopes };
}

/**
 * Whether git tracks `file`: `git ls-files --error-unmatch` in the file's own
 * folder (so the repository is the one that holds the file). undefined when
 * git is missing or the folder is in no repository.
 */
export async function isTrackedByGit(file: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean | undefined> {
  const r = await runProcess('git', ['ls-files', '--error-unmatch', '--', basename(file)], { cwd: dirname(file), env, timeoutMs: 5000 });
  if (r.error || r.timedOut || r.exitCode === undefined) return undefined;
  if (r.exitCode === 0) return true;
  // 1: in a repository, but not tracked; 128: not in a repository (or git refuses the folder).
  return r.exitCode === 1 ? false : undefined;
}

/** Mark the files whose env holds a secret with whether git tracks them (for the settings-secrets check). */
export async function markGitTracked(settings: SettingsFacts, env: NodeJS.ProcessEnv = process.env): Promise<SettingsFacts> {
  const scopes = await Promise.all(
    settings.scopes.map(async (s) =>
      s.exists && secretEnvKeys(s.doc).length > 0 ? { ...s, gitTracked: await isTrackedByGit(s.file, env) } : s,
    ),
  );
  return { scopes };
}
