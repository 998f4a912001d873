/**
 * This package's own package.json, read at run time. This module sits two
 * folders below the package root both in the sources (src/adapters/) and once
 * built or installed (dist/adapters/), so one relative path finds it in both.
 */
import { readFileSync } from 'node:fs';

const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

/** Our version (`0.0.0` when package.json cannot be read). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
