/**
 * Edit a JSON text in place: from the document it was parsed into and the
 * document wanted, change only what differs, leaving every other byte as
 * the user wrote it (their key order, spacing, and numbers such as 1e400
 * that JavaScript cannot hold). Pure: text in, text out.
 */
import { findNodeAtLocation, parseTree, type JSONPath, type Node } from 'jsonc-parser';
import { isObject } from './is-object.js';

export interface TextFormat {
  /** One level of indentation: spaces, or a tab. */
  indent: string;
  eol?: '\n' | '\r\n';
}

type Json = unknown;

function same(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const end = (node: Node): number => node.offset + node.length;

/** The whitespace that starts the line `offset` is on. */
function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/**
 * Member edits on the text itself. Adding a member and removing it again
 * gives back the same bytes: a member is added after the last one (or
 * inside an empty container), laid out as its siblings are, and removing
 * one takes out exactly that member and the comma before it.
 */
class TextEditor {
  constructor(
    public text: string,
    private readonly format: TextFormat,
  ) {}

  private get eol(): string {
    return this.format.eol ?? '\n';
  }

  private splice(from: number, to: number, insert: string): void {
    this.text = this.text.slice(0, from) + insert + this.text.slice(to);
  }

  /** `value` as JSON whose lines after the first start with `indent`; on one line when `inline`. */
  private render(value: Json, indent: string, inline: boolean): string {
    if (inline) return JSON.stringify(value);
    return JSON.stringify(value, null, this.format.indent)
      .split('\n')
      .join(this.eol + indent);
  }

  set(path: JSONPath, value: Json): void {
    const root = parseTree(this.text);
    if (!root) throw new Error('not JSON');
    const node = findNodeAtLocation(root, path);
    if (value === undefined) {
      if (node) this.remove(node.parent?.type === 'property' ? node.parent : node);
      return;
    }
    if (node) {
      const memberStart = node.parent?.type === 'property' ? node.parent.offset : node.offset;
      const inline = !this.text.slice(node.offset, end(node)).includes('\n') && typeof value !== 'object';
      this.splice(node.offset, end(node), this.render(value, lineIndent(this.text, memberStart), inline));
      return;
    }
    const container = findNodeAtLocation(root, path.slice(0, -1));
    if (!container) throw new Error(`no container at ${JSON.stringify(path.slice(0, -1))}`);
    this.insert(container, container.type === 'object' ? String(path[path.length - 1]) : undefined, value);
  }

  private remove(member: Node): void {
    const container = member.parent!;
    const siblings = container.children ?? [];
    const i = siblings.indexOf(member);
    if (i > 0) this.splice(end(siblings[i - 1]!), end(member), '');
    else if (siblings.length > 1) this.splice(member.offset, siblings[1]!.offset, '');
    else this.splice(container.offset + 1, end(container) - 1, '');
  }

  private insert(container: Node, key: string | undefined, value: Json): void {
    const siblings = container.children ?? [];
    const last = siblings[siblings.length - 1];
    if (last) {
      const multiline = this.text.slice(container.offset, siblings[0]!.offset).includes('\n');
      const indent = multiline ? lineIndent(this.text, siblings[0]!.offset) : '';
      const member = (key === undefined ? '' : `${JSON.stringify(key)}: `) + this.render(value, indent, !multiline);
      this.splice(end(last), end(last), multiline ? `,${this.eol}${indent}${member}` : `, ${member}`);
      return;
    }
    const outer = lineIndent(this.text, container.offset);
    const indent = outer + this.format.indent;
    const member = (key === undefined ? '' : `${JSON.stringify(key)}: `) + this.render(value, indent, false);
    this.splice(container.offset + 1, end(container) - 1, `${this.eol}${indent}${member}${this.eol}${outer}`);
  }

  /** Turn the value at `path` from `before` into `after`, touching as little text as it can. */
  change(path: JSONPath, before: Json, after: Json): void {
    if (same(before, after)) return;
    if (isObject(before) && isObject(after)) this.changeObject(path, before, after);
    else if (Array.isArray(before) && Array.isArray(after)) this.changeArray(path, before, after);
    else this.set(path, after);
  }

  private changeObject(path: JSONPath, before: Record<string, Json>, after: Record<string, Json>): void {
    for (const key of Object.keys(before)) if (!(key in after)) this.set([...path, key], undefined);
    for (const [key, value] of Object.entries(after)) {
      if (key in before) this.change([...path, key], before[key], value);
      else this.set([...path, key], value);
    }
  }

  /** Items appended, items removed, or items changed in place; anything else replaces the array. */
  private changeArray(path: JSONPath, before: Json[], after: Json[]): void {
    if (after.length > before.length && before.every((item, i) => same(item, after[i]))) {
      for (let i = before.length; i < after.length; i++) this.set([...path, i], after[i]);
      return;
    }
    const kept = keptIndexes(before, after);
    if (kept) {
      for (let i = before.length - 1; i >= 0; i--) if (!kept.has(i)) this.set([...path, i], undefined);
      return;
    }
    if (before.length === after.length) {
      before.forEach((item, i) => this.change([...path, i], item, after[i]));
      return;
    }
    this.set(path, after);
  }
}

/** When `after` is `before` with some items taken out: the indexes of `before` that stay. */
function keptIndexes(before: Json[], after: Json[]): Set<number> | undefined {
  if (after.length >= before.length) return undefined;
  const kept = new Set<number>();
  let j = 0;
  for (let i = 0; i < before.length && j < after.length; i++) {
    if (same(before[i], after[j])) {
      kept.add(i);
      j++;
    }
  }
  return j === after.length ? kept : undefined;
}

/**
 * The text of `after`, made from `text` (which parses to `before`) by
 * editing only the values that differ. New keys go at the end of their
 * object, indented as the file is.
 */
export function editJsonText(text: string, before: Record<string, Json>, after: Record<string, Json>, format: TextFormat): string {
  const editor = new TextEditor(text, format);
  editor.change([], before, after);
  return editor.text;
}
