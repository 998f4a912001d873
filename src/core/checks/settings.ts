/** The Claude Code settings group: the files parse, our hook is there once, and nothing switches it off. */
import { isTruthy } from '../hook-settings.js';
import { findForeignTracers, HOOK_EVENTS } from '../settings.js';
import { commandLine } from '../shell-quote.js';
import type { Check } from './check.js';
import { doctorFix, ok, skip } from './outcomes.js';
import { isObject } from '../is-object.js';
import { effectiveEnv, effectiveSetting, ourHooks, readScopes, scopeLabel, secretEnvKeys, type OurHook } from './settings-derived.js';

export const settingsJsonCheck: Check = {
  id: 'settings-json',
  group: 'settings',
  title: 'Settings files are strict JSON',
  needs: ['settings'],
  run({ settings }) {
    const present = settings.scopes.filter((s) => s.exists);
    const relaxed = present.filter((s) => s.parse === 'relaxed');
    const broken = present.filter((s) => s.parse === 'error');
    if (broken.length) {
      const duplicatesOnly = broken.every((s) => s.error?.detail.startsWith('duplicate key'));
      return {
        status: 'fail',
        message: duplicatesOnly
          ? `${broken.map((s) => s.file).join(', ')} ${broken.length === 1 ? 'has a key' : 'have keys'} written twice: Claude Code keeps only the last value, and claude-mlflow will not edit ${broken.length === 1 ? 'it' : 'them'} until ${broken.length === 1 ? 'it is' : 'they are'} merged.`
          : `Claude Code cannot read ${broken.map((s) => s.file).join(', ')}.`,
        details: broken.map((s) => `${s.file}:${s.error?.line}:${s.error?.column}: ${s.error?.detail}`),
        fix: { command: `fix ${broken[0]!.file} by hand (line ${broken[0]!.error?.line}, column ${broken[0]!.error?.column})` },
      };
    }
    if (relaxed.length) {
      return {
        status: 'fail',
        message: `Claude Code ignores this whole file: ${relaxed
          .map(
            (s) =>
              `${s.file}:${s.relaxed?.line}:${s.relaxed?.column} has a ${s.relaxed?.kind === 'comment' ? 'comment' : 'trailing comma'}`,
          )
          .join('; ')}.`,
        details: relaxed.map((s) => `${s.scope}: ${s.file} (line ${s.relaxed?.line}, column ${s.relaxed?.column}: ${s.relaxed?.kind})`),
        fix: doctorFix('claude-mlflow', 'rewrite-strict-json'),
      };
    }
    if (present.length === 0) return ok('no settings files yet');
    return ok(
      `${present.length === 1 ? '1 file parses' : `${present.length} files parse`} as strict JSON`,
      present.map((s) => `${s.scope}: ${s.file}`),
    );
  },
};

/** What a user loses when our hook is missing from an event. */
const MISSING_EVENT_COST: Record<(typeof HOOK_EVENTS)[number], string> = {
  Stop: 'sessions are not traced',
  SubagentStop: 'subagents that run in the background are not traced',
  StopFailure: 'turns that an API error ends are not traced',
  SessionEnd: 'nothing waits for the last traces of a session to be delivered before Claude Code exits (a container may take them with it)',
};

export const hookOnceCheck: Check = {
  id: 'hook-once',
  group: 'settings',
  title: 'Our hook is configured exactly once',
  needs: ['settings'],
  run({ settings }) {
    const hooks = ourHooks(readScopes(settings));
    const ignored = ourHooks(settings.scopes.filter((s) => s.parse === 'relaxed' && s.doc));
    const on = (event: string): OurHook[] => hooks.filter((h) => h.event === event);
    const stop = on('Stop');
    const other = hooks.filter((h) => !(HOOK_EVENTS as readonly string[]).includes(h.event));
    const where = (list: OurHook[]): string[] => list.map((h) => `${h.scope}: ${h.file} ${h.where}`);
    const scopes = [...new Set(hooks.map((h) => h.scope))];
    const repeated = HOOK_EVENTS.filter((event) => on(event).length > 1);
    if (repeated.length > 0 || other.length > 0) {
      const parts = repeated.map((event) => `${on(event).length} times on ${event}`);
      if (other.length) parts.push(`also on ${[...new Set(other.map((h) => h.event))].join(', ')}`);
      return {
        status: 'fail',
        message: `Our hook runs ${parts.join(' and ')} (in ${scopes.join(' and ')} settings): every turn is traced more than once.`,
        details: where(hooks),
        fix: doctorFix('claude-mlflow', 'dedupe-hooks'),
      };
    }
    if (stop.length === 0) {
      const details = ignored.length
        ? [`our hook is in ${[...new Set(ignored.map((h) => h.file))].join(', ')}, which Claude Code ignores (see settings-json)`]
        : [];
      return {
        status: 'fail',
        message: 'No Stop hook of ours in any settings file Claude Code reads: sessions are not traced.',
        details,
        fix: ignored.length ? doctorFix('claude-mlflow', 'rewrite-strict-json') : { command: 'claude-mlflow init' },
      };
    }
    const missing = HOOK_EVENTS.filter((event) => on(event).length === 0);
    if (missing.length > 0) {
      const why = missing.map((event) => MISSING_EVENT_COST[event]).join('; ');
      return {
        status: 'warn',
        message: `Our hook is on Stop (${stop[0]!.scope}) but not on ${missing.join(' or ')}: ${why}.`,
        details: where(hooks),
        fix: { command: 'claude-mlflow init' },
      };
    }
    return ok(`once on each of ${HOOK_EVENTS.join(', ')} (${scopes.join(', ')} settings)`, where(hooks));
  },
};

export const foreignTracerCheck: Check = {
  id: 'foreign-tracer',
  group: 'settings',
  title: 'No second tracer',
  needs: ['settings'],
  run({ settings }) {
    const found = readScopes(settings).flatMap((s) =>
      s.doc ? findForeignTracers(s.doc).map((f) => ({ ...f, scope: s.scope, file: s.file })) : [],
    );
    if (found.length === 0) return ok("MLflow's own hook and plugin are not configured");
    const first = found[0]!;
    return {
      status: 'fail',
      message: `MLflow's own tracer is configured too (${found.map((f) => `${f.kind} in ${f.scope} settings`).join(', ')}): every session is traced twice.`,
      details: found.map((f) => `${f.file} ${f.where}${f.command ? `: ${f.command}` : ''}`),
      fix: {
        command:
          first.kind === 'mlflow-plugin'
            ? `claude plugin disable ${first.where.replace(/^enabledPlugins\["?|"?\]$/g, '')}`
            : `remove ${first.where} from ${first.file} (or run \`claude-mlflow init --yes\`, which replaces it)`,
      },
    };
  },
};

export const hooksEnabledCheck: Check = {
  id: 'hooks-enabled',
  group: 'settings',
  title: 'Hooks are not switched off',
  needs: ['settings'],
  run({ settings }) {
    const disabled = effectiveSetting(settings, 'disableAllHooks');
    if (disabled?.value === true) {
      return {
        status: 'fail',
        message: `disableAllHooks is true in ${scopeLabel(disabled)}: Claude Code runs no hooks, ours included.`,
        fix: {
          command:
            disabled.scope === 'managed'
              ? 'ask your administrator: managed settings switch hooks off'
              : `remove "disableAllHooks" from ${disabled.file}`,
        },
      };
    }
    const managedOnly = effectiveSetting(settings, 'allowManagedHooksOnly');
    if (managedOnly?.value === true && managedOnly.scope === 'managed') {
      const inManaged = ourHooks(readScopes(settings).filter((s) => s.scope === 'managed')).length > 0;
      if (!inManaged) {
        return {
          status: 'fail',
          message: `allowManagedHooksOnly is true in ${scopeLabel(managedOnly)}: Claude Code ignores hooks from user and project settings, ours included.`,
          fix: { command: 'ask your administrator to add our hook to the managed settings' },
        };
      }
    }
    return ok('neither disableAllHooks nor allowManagedHooksOnly is set');
  },
};

export const tracingEnabledCheck: Check = {
  id: 'tracing-enabled',
  group: 'settings',
  title: 'MLFLOW_CLAUDE_TRACING_ENABLED is true',
  needs: ['settings'],
  run({ settings }) {
    const set = effectiveEnv(settings, 'MLFLOW_CLAUDE_TRACING_ENABLED');
    if (!set && ourHooks(readScopes(settings)).length === 0) return skip('No hook of ours to enable (see hook-once).');
    if (!set) {
      return {
        status: 'fail',
        message: 'MLFLOW_CLAUDE_TRACING_ENABLED is not set under `env` in any settings file Claude Code reads: the hook does nothing.',
        fix: { command: 'claude-mlflow enable', auto: 'enable-tracing' },
      };
    }
    if (typeof set.value === 'string' && isTruthy(set.value)) return ok(`"${set.value}" (${set.scope} settings)`);
    return {
      status: 'warn',
      message: `Tracing is paused: MLFLOW_CLAUDE_TRACING_ENABLED is ${JSON.stringify(set.value)} in ${scopeLabel(set)}.`,
      fix: { command: 'claude-mlflow enable' },
    };
  },
};

/** The folder and name of a file, without node:path (this module does no I/O and runs anywhere). */
function splitFile(file: string): { dir: string; name: string } {
  const at = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return at < 0 ? { dir: '.', name: file } : { dir: file.slice(0, at) || '/', name: file.slice(at + 1) };
}

/**
 * A token or password in a settings file that git tracks is in the repository
 * (and its history) for anyone who can read it. It does not stop traces, so
 * this is a warning: doctor's exit code stays 0 for it.
 */
export const settingsSecretsCheck: Check = {
  id: 'settings-secrets',
  group: 'settings',
  title: 'No token or password in a settings file that git tracks',
  needs: ['settings', 'context'],
  run({ settings, context }) {
    const found = settings.scopes
      .filter((s) => s.doc && s.parse !== 'error')
      .map((s) => ({ s, keys: secretEnvKeys(s.doc) }))
      .filter((x) => x.keys.length > 0);
    const tracked = found.filter((x) => x.s.gitTracked === true);
    const list = (keys: string[]): string => keys.map((k) => `env.${k}`).join(', ');
    if (tracked.length === 0) {
      if (found.length === 0) return ok('no token or password in the env of any settings file');
      return ok(
        `${found.length === 1 ? '1 settings file holds' : `${found.length} settings files hold`} a token or password, but git does not track ${found.length === 1 ? 'it' : 'them'}`,
        found.map((x) => `${x.s.scope}: ${x.s.file}: ${list(x.keys)} (not tracked by git)`),
      );
    }
    const first = tracked[0]!;
    const { dir, name } = splitFile(first.s.file);
    const move = `move ${list(first.keys)} out of ${first.s.file} into ${first.s.scope === 'user' ? 'your shell environment (e.g. ~/.profile)' : '~/.claude/settings.json or your shell environment'}`;
    // The project file is meant to be shared (it holds our hooks): take the secret out of it, not the file out of git.
    const untrack =
      first.s.scope === 'project'
        ? 'and commit'
        : `or stop tracking the file: \`${commandLine(['git', '-C', dir, 'rm', '--cached', name], context.platform)}\` (and add it to .gitignore)`;
    return {
      status: 'warn',
      message:
        tracked.length === 1
          ? `${list(first.keys)} in ${first.s.scope} settings (${first.s.file}), which git tracks: anyone who can read the repository can read ${first.keys.length === 1 ? 'it' : 'them'}.`
          : `Tokens or passwords in ${tracked.length} settings files that git tracks: anyone who can read the repository can read them.`,
      details: tracked.map((x) => `${x.s.scope}: ${x.s.file}: ${list(x.keys)} (tracked by git)`),
      fix: { command: `${move}, ${untrack}; git history keeps the old value, so rotate it` },
    };
  },
};

export const settingsEnvCheck: Check = {
  id: 'settings-env',
  group: 'settings',
  title: 'env block well-formed',
  needs: ['settings'],
  run({ settings }) {
    const problems: string[] = [];
    for (const s of settings.scopes) {
      if (!s.doc || s.parse === 'error') continue;
      if (Object.hasOwn(s.doc, 'environment')) {
        const keys = isObject(s.doc.environment) ? Object.keys(s.doc.environment) : [];
        problems.push(`${s.file}: legacy "environment" key${keys.length ? ` (${keys.join(', ')})` : ''}: Claude Code never reads it`);
      }
      if (isObject(s.doc.env)) {
        for (const [key, value] of Object.entries(s.doc.env)) {
          if (typeof value !== 'string') problems.push(`${s.file}: env.${key} is ${value === null ? 'null' : typeof value}, not a string`);
        }
      }
    }
    if (problems.length === 0) return ok('env values are strings; no legacy "environment" key');
    return {
      status: 'fail',
      message: problems.length === 1 ? `${problems[0]}.` : `${problems.length} problems in env blocks.`,
      details: problems,
      fix: doctorFix('claude-mlflow', 'migrate-environment'),
    };
  },
};
