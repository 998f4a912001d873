/**
 * What Claude Code makes of its settings files: the files it reads, our hooks
 * in them, the env value that wins, and the env keys that hold a secret.
 */
import { commandOf, hookEntries } from '../hook-entries.js';
import { isObject } from '../is-object.js';
import { formatPath, isOurHookCommand } from '../settings.js';
import { SCOPE_PRECEDENCE, type SettingsScope } from '../scopes.js';
import type { ScopeSettings, SettingsFacts } from './facts.js';

/** Files Claude Code actually reads (strict JSON), highest precedence first. */
export function readScopes(settings: SettingsFacts): ScopeSettings[] {
  return SCOPE_PRECEDENCE.flatMap((scope) => settings.scopes.filter((s) => s.scope === scope && s.parse === 'ok' && s.doc));
}

export interface OurHook {
  scope: SettingsScope;
  file: string;
  event: string;
  where: string;
  command: string;
}

/** Our hook entries in one document, in file order. */
export function ourHooksIn(doc: Record<string, unknown>): Array<{ event: string; where: string; command: string }> {
  return hookEntries(doc).flatMap(({ event, group, index, hook }) => {
    const command = commandOf(hook);
    if (command === undefined || !isOurHookCommand(command)) return [];
    return [{ event, where: formatPath(['hooks', event, group, 'hooks', index]), command }];
  });
}

export function ourHooks(scopes: ScopeSettings[]): OurHook[] {
  return scopes.flatMap((s) => (s.doc ? ourHooksIn(s.doc).map((h) => ({ ...h, scope: s.scope, file: s.file })) : []));
}

/** The value Claude Code uses for an env key: the highest-precedence file that sets it. */
export function effectiveEnv(settings: SettingsFacts, key: string): { value: unknown; scope: SettingsScope; file: string } | undefined {
  for (const s of readScopes(settings)) {
    const env = s.doc?.env;
    if (isObject(env) && Object.hasOwn(env, key)) return { value: env[key], scope: s.scope, file: s.file };
  }
  return undefined;
}

export function effectiveSetting(settings: SettingsFacts, key: string): { value: unknown; scope: SettingsScope; file: string } | undefined {
  const scopes = readScopes(settings);
  // A managed `true` cannot be overridden.
  const managed = scopes.find((s) => s.scope === 'managed' && s.doc?.[key] === true);
  if (managed) return { value: true, scope: 'managed', file: managed.file };
  for (const s of scopes) {
    if (s.doc && Object.hasOwn(s.doc, key)) return { value: s.doc[key], scope: s.scope, file: s.file };
  }
  return undefined;
}

export const scopeLabel = (s: { scope: SettingsScope; file: string }): string => `${s.scope} (${s.file})`;

/**
 * Names that hold a secret: TOKEN, PASSWORD, SECRET, API_KEY… as a whole
 * `_`-separated part of the name, so MLFLOW_TRACKING_TOKEN, DATABRICKS_TOKEN
 * and AWS_SECRET_ACCESS_KEY count but CLAUDE_CODE_MAX_OUTPUT_TOKENS does not.
 */
const SECRET_ENV_KEY = /(?:^|_)(?:TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|ACCESS_KEY|PRIVATE_KEY)(?:_|$)/i;

/** A URL with a password in it: `scheme://user:password@host`. */
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i;

/** Keys whose name says secret (and that have a value), or whose value is a URL with a password. */
export function secretEnvKeys(doc: Record<string, unknown> | undefined): string[] {
  if (!doc || !isObject(doc.env)) return [];
  return Object.entries(doc.env)
    .filter(([key, value]) => {
      const text = value === null || value === undefined ? '' : String(value);
      return (SECRET_ENV_KEY.test(key) && text.trim() !== '') || URL_WITH_PASSWORD.test(text);
    })
    .map(([key]) => key);
}
