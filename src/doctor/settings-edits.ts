/**
 * Pure edits of one settings document that `doctor --fix` makes. They never
 * mutate their input; everything that is not ours is left as it was.
 */
import { hookEntries } from '../core/hook-entries.js';
import { isObject } from '../core/is-object.js';
import { isOurHookCommand } from '../core/settings.js';

type Doc = Record<string, unknown>;

/**
 * Drop our hook entries that `keep` does not keep (it sees each entry of
 * ours with its event and its index among ours on that event). A group we
 * empty goes, and so does an event array we empty.
 */
export function filterOurHooks(input: Doc, keep: (event: string, nth: number) => boolean): { doc: Doc; dropped: number } {
  const doc = structuredClone(input);
  if (!isObject(doc.hooks)) return { doc, dropped: 0 };
  const hooks = doc.hooks;
  let dropped = 0;
  for (const event of Object.keys(hooks)) {
    const groups = hooks[event];
    if (!Array.isArray(groups)) continue;
    let nth = 0;
    let droppedHere = 0;
    const kept = groups.filter((group) => {
      if (!isObject(group) || !Array.isArray(group.hooks)) return true;
      const entries: unknown[] = group.hooks;
      const left = entries.filter((hook) => {
        const command = isObject(hook) && typeof hook.command === 'string' ? hook.command : undefined;
        if (command === undefined || !isOurHookCommand(command)) return true;
        const stays = keep(event, nth++);
        if (!stays) droppedHere++;
        return stays;
      });
      group.hooks = left;
      return left.length > 0 || entries.length === left.length;
    });
    if (droppedHere > 0) {
      if (kept.length === 0) delete hooks[event];
      else hooks[event] = kept;
    }
    dropped += droppedHere;
  }
  if (dropped > 0 && Object.keys(hooks).length === 0) delete doc.hooks;
  return { doc, dropped };
}

/** Point every hook of ours at `command`. */
export function setOurHookCommand(input: Doc, command: string): { doc: Doc; changed: number } {
  const doc = structuredClone(input);
  let changed = 0;
  for (const { hook } of hookEntries(doc)) {
    if (!isObject(hook) || typeof hook.command !== 'string' || !isOurHookCommand(hook.command)) continue;
    if (hook.command !== command) {
      hook.command = command;
      changed++;
    }
  }
  return { doc, changed };
}

/** env values that are not strings become strings (numbers and booleans as written, others as JSON). */
export function stringifyEnv(input: Doc): { doc: Doc; changed: string[] } {
  const doc = structuredClone(input);
  const changed: string[] = [];
  if (!isObject(doc.env)) return { doc, changed };
  for (const [key, value] of Object.entries(doc.env)) {
    if (typeof value === 'string') continue;
    doc.env[key] = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value === null ? '' : JSON.stringify(value);
    changed.push(key);
  }
  return { doc, changed };
}

/** Set one env value, when the document already sets that key. */
export function replaceEnvValue(
  input: Doc,
  key: string,
  value: string,
  when: (current: unknown) => boolean,
): { doc: Doc; changed: boolean } {
  const doc = structuredClone(input);
  if (!isObject(doc.env) || !Object.hasOwn(doc.env, key) || !when(doc.env[key])) return { doc, changed: false };
  if (doc.env[key] === value) return { doc, changed: false };
  doc.env[key] = value;
  return { doc, changed: true };
}
