/**
 * The hook runtime lives in our data folder, not in the npm package: an npx
 * cache can be wiped, and the hook command must keep working.
 */
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { paths } from '../config.js';
import { commandLine } from '../core/shell-quote.js';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.js';

/** The bundled runtime that ships in the package, beside the built CLI. */
export function bundledHookScript(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'claude-mlflow-hook.mjs');
}

export interface InstalledRuntime {
  script: string;
  changed: boolean;
}

/** Copy the bundled runtime into the data folder when it is missing or different. */
export function installHookRuntime(dataRoot: string, source = bundledHookScript()): InstalledRuntime {
  const target = paths(dataRoot).hookScript;
  const wanted = readFileSync(source);
  if (existsSync(target) && readFileSync(target).equals(wanted)) return { script: target, changed: false };
  ensurePrivateDir(dirname(target));
  writeFileAtomic(target, wanted, 0o600);
  chmodSync(target, 0o600);
  return { script: target, changed: true };
}

/** The exact hook command: an absolute node path and an absolute script path, quoted. */
export function hookCommand(script: string, nodePath = process.execPath, platform = process.platform): string {
  return commandLine([nodePath, script], platform);
}
