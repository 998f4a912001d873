/**
 * The Python programs we run with the MLflow venv's interpreter
 * (`<venv python> <script> <args>`) are real files in the package's `python/`
 * folder, shipped beside dist/. Their place is found from this module's own:
 * the package root is the first folder above it with a package.json, so the
 * same code works built (dist/adapters/) and from source under vitest
 * (src/adapters/).
 *
 * Run as a file, Python puts the script's folder (never the user's working
 * directory) first on sys.path; each script takes that entry out first thing.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PythonScriptName = 'sqlite_probe' | 'postgres_probe' | 'migrate_worker' | 'trace_worker' | 'sqlite_maintenance';

let packageRootCache: string | undefined;

/** The folder holding our package.json: the first one above this module. */
function packageRoot(): string {
  if (packageRootCache) return packageRootCache;
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json in or above ${here}`);
    dir = parent;
  }
  packageRootCache = dir;
  return dir;
}

/** The absolute path of `python/<name>.py`. */
export function pythonScript(name: PythonScriptName): string {
  return join(packageRoot(), 'python', `${name}.py`);
}
