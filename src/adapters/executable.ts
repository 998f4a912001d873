/**
 * Whether a file can be run. Its own module, free of execa, so that doctor
 * can ask before it loads anything heavy (see src/adapters/spawn.ts).
 */
import { accessSync, constants, statSync } from 'node:fs';

/** A regular file this process may execute (on Windows: any regular file). */
export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    if (process.platform !== 'win32') accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
