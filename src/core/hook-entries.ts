/**
 * The hook entries of a Claude Code settings document,
 * `hooks[event][group].hooks[index]`: the one walk over them that reading,
 * checking and editing share. Pure, no I/O.
 */
import { isObject } from './is-object.js';

export interface HookEntry {
  event: string;
  /** Index of the group in hooks[event]. */
  group: number;
  /** Index of the entry in the group's hooks. */
  index: number;
  /** The entry itself (not a copy: editing it edits the document). */
  hook: unknown;
}

/** Every hook entry, in file order. Tolerates malformed parts by skipping them. */
export function hookEntries(doc: Record<string, unknown>): HookEntry[] {
  const entries: HookEntry[] = [];
  if (!isObject(doc.hooks)) return entries;
  for (const [event, groups] of Object.entries(doc.hooks)) {
    if (!Array.isArray(groups)) continue;
    groups.forEach((group, groupIndex) => {
      if (!isObject(group) || !Array.isArray(group.hooks)) return;
      group.hooks.forEach((hook, index) => entries.push({ event, group: groupIndex, index, hook }));
    });
  }
  return entries;
}

/** A hook entry's command, when it has one. */
export function commandOf(hook: unknown): string | undefined {
  return isObject(hook) && typeof hook.command === 'string' ? hook.command : undefined;
}
