/** Where each Claude Code settings scope lives. */
import { join } from 'node:path';

export const SCOPES = ['project', 'local', 'user'] as const;
export type Scope = (typeof SCOPES)[number];

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
