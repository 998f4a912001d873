/** Which settings files a command acts on: the one `--scope` names, or every file `init` wrote. */
import type { StoredConfig } from '../adapters/config-store.js';
import { settingsPath, type Scope } from '../core/scopes.js';
import { parseScope } from './options.js';

export function targetFiles(config: StoredConfig, project: string, home: string, scope?: string): string[] {
  if (scope !== undefined) return [settingsPath(parseScope(scope), project, home)];
  const recorded = (config.installs ?? []).map((i) => i.file);
  return recorded.length > 0 ? recorded : [settingsPath('project' as Scope, project, home)];
}
