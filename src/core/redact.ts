/**
 * Secrets out of a trace before it is written anywhere: every string in it
 * is scanned, and each secret is replaced with `[REDACTED:<kind>]`, the rest
 * of the text left readable. Pure: the rules are compiled once, per process.
 *
 * The rules are gitleaks' default set (see secret-rules.ts), each run only on
 * text that holds one of its keywords. Added for what a coding session holds:
 * `NAME=value` and `"name": "value"` pairs whose name says secret (.env
 * files, JSON config), passwords inside connection URLs, and literal values
 * the caller knows to be secret (the secret-named variables of Claude Code's
 * own environment, which its settings' `env` blocks feed).
 */
import { plural } from './format.js';
import { GLOBAL_ALLOW, GLOBAL_STOPWORDS, SECRET_RULES, type SecretRuleSpec } from './secret-rules.js';

export interface RedactionOptions {
  /** Extra patterns (JavaScript regular expressions) whose matches are secrets, kind `custom`. */
  extraPatterns?: readonly string[];
  /** Values never redacted (known false positives). */
  allow?: readonly string[];
  /** Secret values known beforehand (from the environment), redacted wherever they appear; kind `env-value`. */
  knownSecrets?: readonly string[];
  /** Results of long strings already scanned (redactTrace keeps one per trace). */
  memo?: Map<string, { text: string; counts: RedactionCounts }>;
}

/** Redactions made, by kind. */
export type RedactionCounts = Record<string, number>;

interface CompiledRule {
  id: string;
  regex: RegExp;
  keywords: readonly string[];
  entropy?: number;
  secretGroup?: number;
  allow: RegExp[];
  stopwords: readonly string[];
}

/** A name that says its value is a secret. */
const SECRET_NAME =
  '[A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth[_-]?key|session[_-]?key)';
/** What such a name's value may not be: placeholders, references, booleans, empty-ish. */
const PLACEHOLDER =
  /^(?:\$\{?[\w.]+\}?|<[^>]*>|\*+|x+|\.{3}|\d+(?:\.\d+)?|true|false|null|none|undefined|changeme|your[_-].*|example.*|\{\{.*\}\}|\[REDACTED:[\w-]+\])$/i;

/** `process.env.DB_PASSWORD`, `config.auth.token`: an identifier path in code. */
const CODE_REFERENCE = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;
const SECRET_KEY = new RegExp(`^${SECRET_NAME}$`, 'i');
const ENV_PAIR = new RegExp(`(?<![\\w.-])(${SECRET_NAME})([ \\t]*[=:][ \\t]*)(["']?)([^\\s"'\`;,]{6,})\\3`, 'gi');
const JSON_PAIR = new RegExp(`("${SECRET_NAME}"[ \\t]*:[ \\t]*")((?:[^"\\\\]|\\\\.){6,}?)(")`, 'gi');
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@"'`]+:)([^\s/@"'`]{3,})(@)/gi;

let compiled: CompiledRule[] | undefined;

function compileAll(): CompiledRule[] {
  compiled ??= SECRET_RULES.map(compileRule);
  return compiled;
}

function compileRule(spec: SecretRuleSpec): CompiledRule {
  return {
    id: spec.id,
    regex: new RegExp(spec.source, `g${spec.flags}`),
    keywords: spec.keywords,
    ...(spec.entropy !== undefined ? { entropy: spec.entropy } : {}),
    ...(spec.secretGroup !== undefined ? { secretGroup: spec.secretGroup } : {}),
    allow: (spec.allow ?? []).map((a) => new RegExp(a.source, a.flags)),
    stopwords: spec.stopwords ?? [],
  };
}

const globalAllow = GLOBAL_ALLOW.map((a) => new RegExp(a.source, a.flags));

/** How many rules are loaded (for doctor). */
export function loadedRuleCount(): number {
  return compileAll().length;
}

/** Shannon entropy of a string, in bits per character. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

interface Hit {
  start: number;
  end: number;
  kind: string;
}

/** The secret inside a rule's match: its secret group, else the first group that matched, else the whole match. */
function secretOf(match: RegExpExecArray, rule: CompiledRule): { value: string; start: number } | undefined {
  const group = rule.secretGroup ?? match.slice(1).findIndex((g) => g !== undefined && g !== '') + 1;
  const value = group > 0 ? match[group] : match[0];
  if (!value) return undefined;
  const offset = group > 0 ? match[0].indexOf(value) : 0;
  return { value, start: match.index + Math.max(0, offset) };
}

function allowed(value: string, rule: CompiledRule | undefined, allow: readonly string[]): boolean {
  if (allow.includes(value)) return true;
  if (globalAllow.some((re) => re.test(value))) return true;
  const lower = value.toLowerCase();
  if (GLOBAL_STOPWORDS.some((w) => lower.includes(w))) return true;
  if (!rule) return false;
  return rule.allow.some((re) => re.test(value)) || rule.stopwords.some((w) => lower.includes(w.toLowerCase()));
}

/**
 * Every rule's keywords, indexed by their first two characters: one pass
 * over a text finds the rules worth running on it (searching the text once
 * per keyword would read it hundreds of times).
 */
class KeywordIndex {
  private readonly byPrefix = new Map<number, Array<{ keyword: string; rules: number[] }>>();
  /** Whether any keyword starts with this character: most positions are passed over on this alone. */
  private readonly firstChars = new Uint8Array(65536);
  private readonly always: number[] = [];

  constructor(rules: readonly CompiledRule[]) {
    const rulesOf = new Map<string, number[]>();
    rules.forEach((rule, i) => {
      if (rule.keywords.length === 0) this.always.push(i);
      for (const k of rule.keywords) rulesOf.set(k, [...(rulesOf.get(k) ?? []), i]);
    });
    for (const [keyword, ruleIndexes] of rulesOf) {
      this.firstChars[keyword.charCodeAt(0)] = 1;
      const key = KeywordIndex.prefix(keyword, 0);
      this.byPrefix.set(key, [...(this.byPrefix.get(key) ?? []), { keyword, rules: ruleIndexes }]);
    }
  }

  private static prefix(text: string, at: number): number {
    return text.charCodeAt(at) * 65536 + (at + 1 < text.length ? text.charCodeAt(at + 1) : 0);
  }

  /** The indexes of the rules whose keywords `lower` holds. */
  rulesFor(lower: string): Set<number> {
    const found = new Set(this.always);
    for (let i = 0; i < lower.length; i++) {
      if (this.firstChars[lower.charCodeAt(i)] === 0) continue;
      const candidates = this.byPrefix.get(KeywordIndex.prefix(lower, i));
      if (!candidates) continue;
      for (const c of candidates) if (lower.startsWith(c.keyword, i)) for (const r of c.rules) found.add(r);
    }
    return found;
  }
}

let keywordIndex: KeywordIndex | undefined;

function ruleHits(text: string, lower: string, options: RedactionOptions): Hit[] {
  const hits: Hit[] = [];
  const rules = compileAll();
  keywordIndex ??= new KeywordIndex(rules);
  for (const index of keywordIndex.rulesFor(lower)) {
    const rule = rules[index]!;
    rule.regex.lastIndex = 0;
    for (let match = rule.regex.exec(text); match; match = rule.regex.exec(text)) {
      if (match[0] === '') rule.regex.lastIndex++;
      const secret = secretOf(match, rule);
      if (!secret) continue;
      if (rule.entropy !== undefined && shannonEntropy(secret.value) < rule.entropy) continue;
      if (allowed(secret.value, rule, options.allow ?? [])) continue;
      hits.push({ start: secret.start, end: secret.start + secret.value.length, kind: rule.id });
    }
  }
  return hits;
}

/** Our additions: secret-named pairs, passwords in URLs, extra patterns, known values. */
function ownHits(text: string, options: RedactionOptions): Hit[] {
  const hits: Hit[] = [];
  const add = (start: number, value: string, kind: string): void => {
    if (PLACEHOLDER.test(value) || allowed(value, undefined, options.allow ?? [])) return;
    hits.push({ start, end: start + value.length, kind });
  };
  for (const m of text.matchAll(ENV_PAIR)) {
    // Unquoted `password = process.env.DB_PASSWORD` in code names a value, it is not one.
    if (!m[3] && CODE_REFERENCE.test(m[4]!)) continue;
    add(m.index! + m[1]!.length + m[2]!.length + m[3]!.length, m[4]!, 'secret-assignment');
  }
  for (const m of text.matchAll(JSON_PAIR)) add(m.index! + m[1]!.length, m[2]!, 'secret-assignment');
  for (const m of text.matchAll(URL_PASSWORD)) add(m.index! + m[1]!.length, m[2]!, 'url-password');
  for (const source of options.extraPatterns ?? []) {
    for (const m of text.matchAll(new RegExp(source, 'g'))) if (m[0]) add(m.index!, m[0], 'custom');
  }
  for (const secret of options.knownSecrets ?? []) {
    if (secret.length < 8) continue;
    for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + secret.length))
      hits.push({ start: at, end: at + secret.length, kind: 'env-value' });
  }
  return hits;
}

/** Replace the hits, the longest first where they overlap. */
function applyHits(text: string, hits: Hit[], counts: RedactionCounts): string {
  if (hits.length === 0) return text;
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  for (const hit of hits) {
    if (hit.start < at) {
      if (hit.end <= at) continue;
      hit.start = at; // overlapping: extend the redaction already made
    }
    out += `${text.slice(at, hit.start)}[REDACTED:${hit.kind}]`;
    at = hit.end;
    counts[hit.kind] = (counts[hit.kind] ?? 0) + 1;
  }
  return out + text.slice(at);
}

/** The text with its secrets replaced; `counts` gets one per redaction, by kind. */
export function redactText(text: string, options: RedactionOptions = {}, counts: RedactionCounts = {}): string {
  if (text.length < 6) return text;
  const memo = text.length >= MEMO_MIN_CHARS ? options.memo : undefined;
  const known = memo?.get(text);
  if (known) {
    for (const [kind, n] of Object.entries(known.counts)) counts[kind] = (counts[kind] ?? 0) + n;
    return known.text;
  }
  const own: RedactionCounts = {};
  const out = applyHits(text, [...ruleHits(text, text.toLowerCase(), options), ...ownHits(text, options)], own);
  for (const [kind, n] of Object.entries(own)) counts[kind] = (counts[kind] ?? 0) + n;
  memo?.set(text, { text: out, counts: own });
  return out;
}

/** Strings at least this long are scanned once per trace, however often they occur in it. */
const MEMO_MIN_CHARS = 256;

/** Every string inside a JSON value redacted (keys too: a secret can be a key). */
export function redactValue(value: unknown, options: RedactionOptions = {}, counts: RedactionCounts = {}): unknown {
  if (typeof value === 'string') return redactText(value, options, counts);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, options, counts));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // `{ "api_key": "…" }` as an object: the value is the secret, whatever it looks like.
      if (
        typeof v === 'string' &&
        SECRET_KEY.test(k) &&
        v.length >= 6 &&
        !PLACEHOLDER.test(v) &&
        !allowed(v, undefined, options.allow ?? [])
      ) {
        counts['secret-assignment'] = (counts['secret-assignment'] ?? 0) + 1;
        out[k] = '[REDACTED:secret-assignment]';
        continue;
      }
      out[redactText(k, options, counts)] = redactValue(v, options, counts);
    }
    return out;
  }
  return value;
}

/** The shape of a trace that redaction walks (TraceModel, without importing it: the core stays one-way). */
interface RedactableTrace {
  requestPreview: string;
  responsePreview: string;
  metadata: Record<string, string>;
  spans: Array<{ inputs: unknown; outputs: unknown; attributes: Record<string, unknown>; statusMessage?: string }>;
}

/** The trace with every string in it redacted, and the redactions by kind. */
export function redactTrace<T extends RedactableTrace>(trace: T, options: RedactionOptions = {}): { trace: T; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  // A tool's result is in its tool span and in the next call's input: scan each long string once.
  const seen = new Map<string, { text: string; counts: RedactionCounts }>();
  const cached: RedactionOptions = { ...options, memo: seen };
  const text = (s: string): string => redactText(s, cached, counts);
  const spans = trace.spans.map((span) => ({
    ...span,
    inputs: redactValue(span.inputs, cached, counts),
    outputs: redactValue(span.outputs, cached, counts),
    attributes: redactValue(span.attributes, cached, counts) as Record<string, unknown>,
    ...(span.statusMessage !== undefined ? { statusMessage: text(span.statusMessage) } : {}),
  }));
  const metadata = Object.fromEntries(Object.entries(trace.metadata).map(([k, v]) => [k, text(v)]));
  return {
    trace: { ...trace, spans, metadata, requestPreview: text(trace.requestPreview), responsePreview: text(trace.responsePreview) },
    counts,
  };
}

/** Values in an environment whose names say secret (Claude Code's settings `env` blocks feed the hook's): redacted wherever they appear. */
export function secretValuesOf(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(env)
    .filter(([name, value]) => typeof value === 'string' && value.length >= 8 && SECRET_KEY.test(name) && !PLACEHOLDER.test(value))
    .map(([, value]) => value!);
}

/** A line for the hook log: how many secrets of which kinds, never the values. */
export function describeRedactions(counts: RedactionCounts): string | undefined {
  const kinds = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (kinds.length === 0) return undefined;
  const total = kinds.reduce((n, [, c]) => n + c, 0);
  return `${plural(total, 'secret')} redacted (${kinds.map(([k, c]) => `${k} ×${c}`).join(', ')})`;
}

/** What the user set in config.json's `redaction`, with the secrets of this environment; false when switched off. */
export function redactionOptionsFor(
  config: { enabled?: boolean; extraPatterns?: string[]; allow?: string[] } | undefined,
  env: Readonly<Record<string, string | undefined>>,
): RedactionOptions | false {
  if (config?.enabled === false) return false;
  const extraPatterns = (config?.extraPatterns ?? []).filter((source) => {
    try {
      new RegExp(source, 'g');
      return true;
    } catch {
      return false; // doctor names it; a bad pattern never stops a trace
    }
  });
  return { extraPatterns, allow: config?.allow ?? [], knownSecrets: secretValuesOf(env) };
}
