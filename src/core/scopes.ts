/** Claude Code's settings scopes, and where each one we write lives. */
import { join } from 'node:path';

/** The scopes we write (managed settings are the administrator's), in the order init offers them. */
export const SCOPES = ['project', 'local', 'user'] as const;
export type Scope = (typeof SCOPES)[number];

/** Every scope Claude Code reads. */
export type SettingsScope = 'managed' | Scope;
/** Claude Code's precedence, highest first. */
export const SCOPE_PRECEDENCE: readonly SettingsScope[] = ['managed', 'local', 'project', 'user'];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function settingsPath(scope: Scope, project: string, home: string): string {
  switch (scope) {
    case 'user':
      return join(home, '.claude', 'settings.json');
    case 'local':
      return join(project, '.claude', 'settings.local.json');
    case 'project':
      return join(project, '.claude', 'settings.json');
  }
}
