/**
 * Temp directories for tests: one per case, cleaned up afterwards.
 *
 * Paths are realpath'd (macOS /var -> /private/var) so that what a child
 * process sees as its cwd equals the path the test holds.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TempDir {
  /** Absolute, symlink-free path of the new directory. */
  path: string;
  /** Remove the directory and everything in it (never throws). */
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = 'claude-mlflow-'): Promise<TempDir> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), prefix)));
  return {
    path: dir,
    cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined),
  };
}

/** A temp directory to use as HOME for a child process. */
export function makeTempHome(): Promise<TempDir> {
  return makeTempDir('claude-mlflow-home-');
}
