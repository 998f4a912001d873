/**
 * The hook runtime lives in our data folder, not in the npm package: an npx
 * cache can be wiped, and the hook command must keep working.
 */
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DELIVER_SCRIPT_NAME, paths } from '../config.js';
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

/** The delivery process's runtime that ships beside a hook runtime. */
export function deliverScriptBeside(hookScript: string): string {
  return join(dirname(hookScript), DELIVER_SCRIPT_NAME);
}

/** Copy one file when it is missing or different; true when it was copied. */
function copyIfDifferent(source: string, target: string): boolean {
  const wanted = readFileSync(source);
  if (existsSync(target) && readFileSync(target).equals(wanted)) return false;
  ensurePrivateDir(dirname(target));
  writeFileAtomic(target, wanted, 0o600);
  chmodSync(target, 0o600);
  return true;
}

/** Whether the installed runtime (hook and delivery files) is the one in `source`'s folder. */
export function hookRuntimeIsCurrent(dataRoot: string, source = bundledHookScript()): boolean {
  const files = paths(dataRoot);
  const same = (a: string, b: string): boolean => existsSync(a) && existsSync(b) && readFileSync(a).equals(readFileSync(b));
  return same(source, files.hookScript) && same(deliverScriptBeside(source), files.deliverScript);
}

/**
 * Copy the bundled runtime into the data folder when it is missing or
 * different: the hook, and beside it the delivery process it starts.
 */
export function installHookRuntime(dataRoot: string, source = bundledHookScript()): InstalledRuntime {
  const files = paths(dataRoot);
  const deliver = copyIfDifferent(deliverScriptBeside(source), files.deliverScript);
  const hook = copyIfDifferent(source, files.hookScript);
  return { script: files.hookScript, changed: hook || deliver };
}

/** The exact hook command: an absolute node path and an absolute script path, quoted. */
export function hookCommand(script: string, nodePath = process.execPath, platform = process.platform): string {
  return commandLine([nodePath, script], platform);
}
