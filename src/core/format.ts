/** How every command writes counts and sizes. */

const noun = (n: number, word: string, many: string): string => (n === 1 ? word : many);

/** `1 check`, `3 checks` (`many` for an irregular plural). */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${noun(n, word, many)}`;
}

/** `1,234 traces`: like plural, with thousands separated, for counts that grow large (traces, rows). */
export function count(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${noun(n, word, many)}`;
}

/** `512 B`, `8.6 MB`, `2.00 GB` (binary units); `unknown` when there is no size. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'unknown';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
