/**
 * Keep secrets out of doctor's and status's output: credentials in URLs,
 * `TOKEN=…` style pairs, bearer tokens, and the literal values of
 * secret-looking variables (from the environment and the settings' env
 * blocks). Pure.
 */
const SECRET_KEY = /(TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|AUTH)/i;
export const MASK = '***';

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Secret values: those of secret-looking keys, at least 4 characters long. */
export function secretValues(...sources: Array<Record<string, unknown> | undefined>): string[] {
  const values = new Set<string>();
  for (const source of sources) {
    if (!source) continue;
    for (const [key, value] of Object.entries(source)) {
      if (typeof value === 'string' && value.length >= 4 && isSecretKey(key)) values.add(value);
    }
  }
  return [...values].sort((a, b) => b.length - a.length);
}

export type Masker = (text: string) => string;

export function makeMasker(secrets: readonly string[] = []): Masker {
  const literal = secrets.length ? new RegExp(secrets.map(escapeRegExp).join('|'), 'g') : undefined;
  return (text: string): string => {
    let out = text;
    if (literal) out = out.replace(literal, MASK);
    // scheme://user:password@host → scheme://***@host
    out = out.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(:[^/\s@]*)?@/gi, `$1${MASK}@`);
    // Authorization: Bearer xxx / Basic xxx
    out = out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/g, `$1 ${MASK}`);
    // KEY=value, "KEY": "value", KEY: value for secret-looking variable names (upper case)
    out = out.replace(
      /\b([A-Z0-9_]*(?:TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)[A-Z0-9_]*)("?\s*[:=]\s*"?)([^\s",}]+)/g,
      (_m, key: string, sep: string) => `${key}${sep}${MASK}`,
    );
    return out;
  };
}

/** Mask every string inside a JSON-like value. */
export function maskDeep<T>(value: T, mask: Masker): T {
  if (typeof value === 'string') return mask(value) as T;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, mask)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v, mask)])) as T;
  }
  return value;
}
