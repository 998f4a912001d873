/**
 * Claude Code settings documents: find, add, update and remove our tracing
 * hook and MLFLOW_* variables. Pure functions on parsed JSON, no I/O.
 *
 * Every function takes the parsed document and returns a NEW one; the input
 * is never mutated. Everything that is not ours (keys, key order, other hooks,
 * matchers, env vars) is left exactly as it was.
 */
import { plural } from './format.js';
import { commandOf, hookEntries } from './hook-entries.js';
import { isObject } from './is-object.js';

type Doc = Record<string, unknown>;
type Segment = string | number;

/** The env keys we own. */
export const OUR_ENV_KEYS: readonly string[] = [
  'MLFLOW_CLAUDE_TRACING_ENABLED',
  'MLFLOW_TRACKING_URI',
  'MLFLOW_EXPERIMENT_NAME',
  'MLFLOW_EXPERIMENT_ID',
];

/**
 * The events our hook runs on: Stop and SubagentStop trace a turn, and
 * StopFailure a turn that an API error ended (instead of Stop); at
 * SessionEnd the hook waits, bounded, for the session's traces to be
 * delivered (Claude Code waits for SessionEnd hooks before it exits).
 */
export const HOOK_EVENTS = ['Stop', 'SubagentStop', 'StopFailure', 'SessionEnd'] as const;

const ENABLED_KEY = 'MLFLOW_CLAUDE_TRACING_ENABLED';
const EXPERIMENT_NAME_KEY = 'MLFLOW_EXPERIMENT_NAME';
const EXPERIMENT_ID_KEY = 'MLFLOW_EXPERIMENT_ID';

export interface TracingSpec {
  hookCommand: string;
  timeoutSec: number;
  /** The MLFLOW_* values to set. */
  env: Record<string, string>;
}

/** What the file held before we touched it, so uninstall can put it back exactly. */
export interface PreviousState {
  env: Record<string, string | null>;
  created: { env: boolean; hooks: boolean; events: string[] };
}

export type ForeignTracerKind = 'mlflow-python-hook' | 'mlflow-autolog-hook' | 'mlflow-plugin';

export interface ForeignTracer {
  kind: ForeignTracerKind;
  /** e.g. 'hooks.Stop[0].hooks[1]' or 'enabledPlugins["mlflow-tracing@mlflow-plugins"]' */
  where: string;
  command?: string;
}

export interface ShapeProblem {
  path: string;
  message: string;
  /** The same path as segments, for locating it in the file's text. */
  segments: Segment[];
}

// ---------------------------------------------------------------------------
// Small helpers

function clone<T>(value: T): T {
  return structuredClone(value);
}

function hasOwn(object: object, key: string): boolean {
  return Object.hasOwn(object, key);
}

/** `hooks.Stop[0].hooks[1]`, `enabledPlugins["a@b"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The child object at `key`, created (appended as the last key) when missing. */
function objectAt(doc: Doc, key: string): Doc {
  const existing = doc[key];
  if (isObject(existing)) return existing;
  const created: Doc = {};
  doc[key] = created;
  return created;
}

// ---------------------------------------------------------------------------
// Recognising commands

/**
 * The text of the quoted part of a shell word that opens at `start` with `'` or `"`:
 * within '…' nothing is special; within "…" a backslash escapes " \ $ and `.
 * `end` is the index of the closing quote (the command's length when it is not closed).
 */
export function readQuoted(command: string, start: number): { text: string; end: number } {
  if (command[start] === "'") {
    const close = command.indexOf("'", start + 1);
    const end = close === -1 ? command.length : close;
    return { text: command.slice(start + 1, end), end };
  }
  let text = '';
  let j = start + 1;
  for (; j < command.length && command[j] !== '"'; j++) {
    if (command[j] === '\\' && '"\\$`'.includes(command[j + 1] ?? '')) j++;
    text += command[j] ?? '';
  }
  return { text, end: j };
}

/** Words of a shell command line, split into simple commands at `;`, `&&`, `||`, `|`. */
function simpleCommands(command: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  const end = (): void => {
    if (word !== undefined) commands[commands.length - 1]!.push(word);
    word = undefined;
  };
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (/\s/.test(ch)) {
      end();
    } else if (ch === ';' || ch === '|' || ch === '&') {
      end();
      if (commands[commands.length - 1]!.length > 0) commands.push([]);
      if ((ch === '|' || ch === '&') && command[i + 1] === ch) i++;
    } else if (ch === "'" || ch === '"') {
      const quoted = readQuoted(command, i);
      word = (word ?? '') + quoted.text;
      i = quoted.end;
    } else {
      word = (word ?? '') + ch;
    }
  }
  end();
  return commands.filter((words) => words.length > 0);
}

/** `/x/claude-mlflow.cmd`, `claude-mlflow@latest` → `claude-mlflow`. */
function programName(word: string): string {
  const base = word.split(/[\\/]/).pop() ?? '';
  return base.replace(/\.(cmd|exe|ps1)$/i, '').replace(/(.)@.*$/, '$1');
}

const LAUNCHERS = new Set(['npx', 'bunx', 'pnpx', 'npm', 'pnpm', 'yarn', 'bun', 'node', 'env', 'exec']);

function isOurCli(word: string): boolean {
  return programName(word) === 'claude-mlflow' || /(^|[\\/])claude-mlflow[\\/]dist[\\/]cli\.js$/.test(word);
}

/** `claude-mlflow hook`, run directly or through npx / pnpm dlx / node …/claude-mlflow/dist/cli.js. */
function runsOurCliHook(words: string[]): boolean {
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  const program = words[i];
  if (program === undefined) return false;
  if (!isOurCli(program) && !LAUNCHERS.has(programName(program))) return false;
  for (let j = i; j < words.length; j++) {
    if (!isOurCli(words[j]!)) continue;
    const next = words.slice(j + 1).find((w) => !w.startsWith('-'));
    if (next === 'hook') return true;
  }
  return false;
}

/** The hook runtime's file name marks our hook wherever the data folder is. */
const HOOK_SCRIPT_PATTERN = /(?:^|[\s'"\\/=])claude-mlflow-hook\.mjs(?=$|[\s'";&|)])/;

/** Is this hook command ours: the hook runtime (wherever it lives), or `claude-mlflow hook`? */
export function isOurHookCommand(command: string): boolean {
  if (HOOK_SCRIPT_PATTERN.test(command)) return true;
  return simpleCommands(command).some(runsOurCliHook);
}

const PYTHON_HOOK_PATTERN = /\bmlflow\.claude_code\.hooks\b/;
const AUTOLOG_HOOK_PATTERN = /(?:^|[\s'"\\/])mlflow(?:\.exe)?['"]?\s+autolog\s+claude\s+[a-z-]*hook(?=$|[\s'";&|])/;

function foreignHookKind(command: string): ForeignTracerKind | undefined {
  if (PYTHON_HOOK_PATTERN.test(command)) return 'mlflow-python-hook';
  if (AUTOLOG_HOOK_PATTERN.test(command)) return 'mlflow-autolog-hook';
  return undefined;
}

function isOurHook(hook: unknown): boolean {
  const command = commandOf(hook);
  return command !== undefined && isOurHookCommand(command);
}

function isForeignHook(hook: unknown): boolean {
  const command = commandOf(hook);
  return command !== undefined && foreignHookKind(command) !== undefined;
}

function isMlflowPlugin(id: string, value: unknown): boolean {
  return /^mlflow-tracing@/.test(id) && (value === true || Array.isArray(value));
}

// ---------------------------------------------------------------------------
// Walking hooks

function hookPath(visit: { event: string; group: number; index: number }): string {
  return formatPath(['hooks', visit.event, visit.group, 'hooks', visit.index]);
}

/**
 * Drop the hook entries `drop` selects from one event's groups. A group that
 * loses all its hooks this way is dropped too (a group the user left empty
 * stays). Returns how many entries were dropped. Mutates `hooks`.
 */
function dropHooks(hooks: Doc, event: string, drop: (hook: unknown, group: number, index: number) => boolean): number {
  const groups = hooks[event];
  if (!Array.isArray(groups)) return 0;
  let dropped = 0;
  const kept = groups.filter((group, groupIndex) => {
    if (!isObject(group) || !Array.isArray(group.hooks)) return true;
    const entries: unknown[] = group.hooks;
    const left = entries.filter((hook, index) => !drop(hook, groupIndex, index));
    group.hooks = left;
    dropped += entries.length - left.length;
    return left.length > 0 || entries.length === 0;
  });
  hooks[event] = kept;
  return dropped;
}

// ---------------------------------------------------------------------------
// Queries

export function findForeignTracers(doc: Record<string, unknown>): ForeignTracer[] {
  const found: ForeignTracer[] = [];
  for (const visit of hookEntries(doc)) {
    const command = commandOf(visit.hook);
    const kind = command === undefined ? undefined : foreignHookKind(command);
    if (kind) found.push({ kind, where: hookPath(visit), command });
  }
  if (isObject(doc.enabledPlugins)) {
    for (const [id, value] of Object.entries(doc.enabledPlugins)) {
      if (isMlflowPlugin(id, value)) found.push({ kind: 'mlflow-plugin', where: formatPath(['enabledPlugins', id]) });
    }
  }
  return found;
}

/** How many hooks of ours, across all events. */
export function countOurHooks(doc: Record<string, unknown>): number {
  return hookEntries(doc).filter((visit) => isOurHook(visit.hook)).length;
}

function problem(segments: Segment[], message: string): ShapeProblem {
  const path = formatPath(segments);
  return { path, segments, message: `${path || 'the settings'} ${message}` };
}

function hooksProblem(hooks: unknown): ShapeProblem | undefined {
  if (!isObject(hooks)) return problem(['hooks'], 'must be an object of hook events');
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) return problem(['hooks', event], 'must be an array of hook groups');
    for (const [g, group] of groups.entries()) {
      if (!isObject(group)) return problem(['hooks', event, g], 'must be an object with a "hooks" array');
      if (!Array.isArray(group.hooks)) return problem(['hooks', event, g, 'hooks'], 'must be an array of hooks');
      for (const [h, hook] of group.hooks.entries()) {
        if (!isObject(hook)) return problem(['hooks', event, g, 'hooks', h], 'must be an object');
      }
    }
  }
  return undefined;
}

/** Shape problems that make us refuse to write. */
export function shapeProblem(doc: unknown): ShapeProblem | undefined {
  if (!isObject(doc)) return problem([], 'must be a JSON object');
  if (hasOwn(doc, 'hooks')) {
    const found = hooksProblem(doc.hooks);
    if (found) return found;
  }
  if (hasOwn(doc, 'env') && !isObject(doc.env)) return problem(['env'], 'must be an object of strings');
  if (hasOwn(doc, 'enabledPlugins') && !isObject(doc.enabledPlugins)) {
    return problem(['enabledPlugins'], 'must be an object');
  }
  return undefined;
}

function assertShape(doc: Doc): void {
  const found = shapeProblem(doc);
  if (found) throw new Error(found.message);
}

// ---------------------------------------------------------------------------
// Legacy `environment`

function scalarString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** `doc` with `key` renamed to `newKey` in the same position. */
function renameKey(doc: Doc, key: string, newKey: string, value: unknown): Doc {
  const out: Doc = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === key) out[newKey] = value;
    else out[k] = v;
  }
  return out;
}

/**
 * Move a legacy `environment` block (written by older MLflow; Claude Code
 * never reads it) into `env`, and drop `environment`. When `env` already has
 * a key, env's value is kept and the key is reported in `conflicts`. Values
 * that are not strings, numbers or booleans are dropped and reported in `skipped`.
 */
export function migrateLegacyEnvironment(input: Record<string, unknown>): {
  doc: Record<string, unknown>;
  moved: string[];
  conflicts: string[];
  skipped: string[];
  changed: boolean;
} {
  const doc = clone(input);
  const legacy = doc.environment;
  const envUsable = !hasOwn(doc, 'env') || isObject(doc.env);
  if (!isObject(legacy) || !envUsable) return { doc, moved: [], conflicts: [], skipped: [], changed: false };
  const moved: string[] = [];
  const conflicts: string[] = [];
  const skipped: string[] = [];
  const env: Doc = isObject(doc.env) ? doc.env : {};
  for (const [key, raw] of Object.entries(legacy)) {
    const value = scalarString(raw);
    if (value === undefined) skipped.push(key);
    else if (!hasOwn(env, key)) {
      env[key] = value;
      moved.push(key);
    } else if (env[key] !== value) conflicts.push(key);
  }
  if (hasOwn(doc, 'env')) {
    delete doc.environment;
    return { doc, moved, conflicts, skipped, changed: true };
  }
  return { doc: renameKey(doc, 'environment', 'env', env), moved, conflicts, skipped, changed: true };
}

function migrationChanges(result: ReturnType<typeof migrateLegacyEnvironment>): string[] {
  if (!result.changed) return [];
  const lines =
    result.moved.length > 0
      ? [`moved environment → env (${plural(result.moved.length, 'key')})`]
      : ['removed environment (Claude Code never reads it)'];
  for (const key of result.conflicts) lines.push(`kept env.${key}; environment.${key} differed and was dropped`);
  for (const key of result.skipped) lines.push(`dropped environment.${key} (not a string)`);
  return lines;
}

// ---------------------------------------------------------------------------
// Applying

function previousStateOf(doc: Doc, spec: TracingSpec): PreviousState {
  const env = isObject(doc.env) ? doc.env : undefined;
  const keys = [...new Set([...OUR_ENV_KEYS, ...Object.keys(spec.env)])];
  const hooks = isObject(doc.hooks) ? doc.hooks : undefined;
  return {
    env: Object.fromEntries(
      keys.map((key) => [key, env && hasOwn(env, key) ? (scalarString(env[key]) ?? JSON.stringify(env[key])) : null]),
    ),
    created: {
      env: !hasOwn(doc, 'env'),
      hooks: !hasOwn(doc, 'hooks'),
      events: HOOK_EVENTS.filter((event) => !hooks || !hasOwn(hooks, event)),
    },
  };
}

/** Remove foreign MLflow tracers: their hooks are dropped, the plugin is set to false. Mutates `doc`. */
function removeForeignTracers(doc: Doc): string[] {
  const changes: string[] = [];
  if (isObject(doc.hooks)) {
    const hooks = doc.hooks;
    for (const event of Object.keys(hooks)) {
      const dropped = dropHooks(hooks, event, (hook, group, index) => {
        if (!isForeignHook(hook)) return false;
        changes.push(`removed MLflow's own hook (${hookPath({ event, group, index })})`);
        return true;
      });
      if (dropped > 0 && (hooks[event] as unknown[]).length === 0) delete hooks[event];
    }
  }
  if (isObject(doc.enabledPlugins)) {
    const plugins = doc.enabledPlugins;
    for (const [id, value] of Object.entries(plugins)) {
      if (!isMlflowPlugin(id, value)) continue;
      plugins[id] = false;
      changes.push(`disabled MLflow's plugin (${formatPath(['enabledPlugins', id])})`);
    }
  }
  return changes;
}

/**
 * Claude Code waits for SessionEnd hooks as long as the longest `timeout`
 * among them, and at least 1.5 s: ours asks for no more than that, so that
 * nobody's session end waits longer because of us.
 */
export const SESSION_END_TIMEOUT_SEC = 1.5;

function timeoutFor(event: string, spec: TracingSpec): number {
  return event === 'SessionEnd' ? Math.min(spec.timeoutSec, SESSION_END_TIMEOUT_SEC) : spec.timeoutSec;
}

function ourHookEntry(event: string, spec: TracingSpec): Doc {
  return { type: 'command', command: spec.hookCommand, timeout: timeoutFor(event, spec) };
}

/** Bring an existing hook of ours up to date in place. Returns what changed. */
function updateOurHook(hook: Doc, event: string, spec: TracingSpec): string[] {
  const fields: string[] = [];
  if (hook.type !== 'command') {
    hook.type = 'command';
    fields.push('type');
  }
  if (hook.command !== spec.hookCommand) {
    hook.command = spec.hookCommand;
    fields.push('command');
  }
  if (hook.timeout !== timeoutFor(event, spec)) {
    hook.timeout = timeoutFor(event, spec);
    fields.push('timeout');
  }
  return fields;
}

/**
 * One hook of ours per HOOK_EVENT: the first one found is updated in place,
 * every other one (in any event) is removed, and a missing one is added as a
 * new group at the end of the event. Mutates `doc`.
 */
function ensureOurHooks(doc: Doc, spec: TracingSpec): string[] {
  const changes: string[] = [];
  const hooks = objectAt(doc, 'hooks');
  const present = new Set<string>();
  for (const event of Object.keys(hooks)) {
    const wanted = (HOOK_EVENTS as readonly string[]).includes(event);
    const dropped = dropHooks(hooks, event, (hook, group, index) => {
      if (!isOurHook(hook)) return false;
      if (wanted && !present.has(event)) {
        present.add(event);
        const fields = updateOurHook(hook as Doc, event, spec);
        if (fields.length > 0) changes.push(`updated ${event} hook (${fields.join(', ')})`);
        return false;
      }
      changes.push(`removed a duplicate of our hook (${hookPath({ event, group, index })})`);
      return true;
    });
    if (dropped > 0 && (hooks[event] as unknown[]).length === 0) delete hooks[event];
  }
  for (const event of HOOK_EVENTS) {
    if (present.has(event)) continue;
    const groups = Array.isArray(hooks[event]) ? (hooks[event] as unknown[]) : [];
    groups.push({ hooks: [ourHookEntry(event, spec)] });
    hooks[event] = groups;
    changes.push(`added ${event} hook`);
  }
  return changes;
}

/** The experiment key that must go when the other one is set: we set a name OR an id. */
function experimentCounterpart(env: Record<string, string>): string | undefined {
  const hasName = hasOwn(env, EXPERIMENT_NAME_KEY);
  const hasId = hasOwn(env, EXPERIMENT_ID_KEY);
  if (hasName && !hasId) return EXPERIMENT_ID_KEY;
  if (hasId && !hasName) return EXPERIMENT_NAME_KEY;
  return undefined;
}

/** Set env values in place (new keys are appended). Mutates `doc`. */
function setOurEnv(doc: Doc, wanted: Record<string, string>): string[] {
  const changes: string[] = [];
  const entries = Object.entries(wanted);
  if (entries.length === 0) return changes;
  const counterpart = experimentCounterpart(wanted);
  const env = objectAt(doc, 'env');
  for (const [key, value] of entries) {
    if (env[key] === value) continue;
    changes.push(`${hasOwn(env, key) ? 'updated' : 'set'} ${key}`);
    env[key] = value;
  }
  if (counterpart && hasOwn(env, counterpart)) {
    delete env[counterpart];
    changes.push(`removed ${counterpart}`);
  }
  return changes;
}

/**
 * Switch tracing on: our hook once on each of HOOK_EVENTS, our env values set,
 * a legacy `environment` block migrated, foreign MLflow tracers reported (and
 * removed when `removeForeign`). A second apply with the same spec changes nothing.
 */
export function applyTracing(
  input: Record<string, unknown>,
  spec: TracingSpec,
  options: { removeForeign?: boolean } = {},
): { doc: Record<string, unknown>; previous: PreviousState; changes: string[]; foreign: ForeignTracer[] } {
  assertShape(input);
  const previous = previousStateOf(input, spec);
  const migrated = migrateLegacyEnvironment(input);
  const doc = migrated.doc;
  const changes = migrationChanges(migrated);
  const foreign = findForeignTracers(doc);
  if (options.removeForeign) changes.push(...removeForeignTracers(doc));
  changes.push(...ensureOurHooks(doc, spec));
  changes.push(...setOurEnv(doc, spec.env));
  return { doc, previous, changes, foreign };
}

// ---------------------------------------------------------------------------
// Removing

/** Remove every hook of ours, and the containers that were ours. Mutates `doc`. */
function removeOurHooks(doc: Doc, previous: PreviousState | undefined): string[] {
  const changes: string[] = [];
  if (!isObject(doc.hooks)) return changes;
  const hooks = doc.hooks;
  let droppedAny = false;
  for (const event of Object.keys(hooks)) {
    const dropped = dropHooks(hooks, event, (hook) => isOurHook(hook));
    if (dropped > 0) changes.push(`removed ${event} hook`);
    droppedAny ||= dropped > 0;
    const empty = (hooks[event] as unknown[]).length === 0;
    const ours = previous ? previous.created.events.includes(event) : dropped > 0;
    if (empty && ours) delete hooks[event];
  }
  const hooksOurs = previous ? previous.created.hooks : droppedAny;
  if (Object.keys(hooks).length === 0 && hooksOurs) delete doc.hooks;
  return changes;
}

/** Put our env keys back as `previous` recorded them (null = absent). Mutates `doc`. */
function restoreEnv(doc: Doc, previous: PreviousState): string[] {
  const changes: string[] = [];
  for (const [key, value] of Object.entries(previous.env)) {
    const env = isObject(doc.env) ? doc.env : undefined;
    if (value === null) {
      if (env && hasOwn(env, key)) {
        delete env[key];
        changes.push(`removed ${key}`);
      }
    } else if (!env || env[key] !== value) {
      objectAt(doc, 'env')[key] = value;
      changes.push(`restored ${key}`);
    }
  }
  if (isObject(doc.env) && Object.keys(doc.env).length === 0 && previous.created.env) delete doc.env;
  return changes;
}

/** Without a record: delete our env keys, and `env` if we emptied it. Mutates `doc`. */
function deleteOurEnv(doc: Doc): string[] {
  const changes: string[] = [];
  if (!isObject(doc.env)) return changes;
  const env = doc.env;
  for (const key of OUR_ENV_KEYS) {
    if (!hasOwn(env, key)) continue;
    delete env[key];
    changes.push(`removed ${key}`);
  }
  if (changes.length > 0 && Object.keys(env).length === 0) delete doc.env;
  return changes;
}

/**
 * Switch tracing off for good: every hook of ours goes, our env keys are put
 * back as `previous` recorded them, and the containers we created are dropped
 * when empty. Without `previous`, our env keys are deleted and only the
 * containers we emptied are dropped.
 */
export function removeTracing(
  input: Record<string, unknown>,
  previous?: PreviousState,
): { doc: Record<string, unknown>; changes: string[] } {
  assertShape(input);
  const doc = clone(input);
  const changes = removeOurHooks(doc, previous);
  changes.push(...(previous ? restoreEnv(doc, previous) : deleteOurEnv(doc)));
  return { doc, changes };
}

/** Turn tracing on or off without touching the hook: MLFLOW_CLAUDE_TRACING_ENABLED = 'true' / 'false'. */
export function setTracingEnabled(input: Record<string, unknown>, enabled: boolean): { doc: Record<string, unknown>; changed: boolean } {
  assertShape(input);
  const doc = clone(input);
  const value = enabled ? 'true' : 'false';
  if (isObject(doc.env) && doc.env[ENABLED_KEY] === value) return { doc, changed: false };
  objectAt(doc, 'env')[ENABLED_KEY] = value;
  return { doc, changed: true };
}
