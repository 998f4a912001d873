/**
 * `systemd-analyze verify --user`, the real check of the unit files we
 * render. Tests that call it are gated on SYSTEMD_ANALYZE
 * (test/helpers/system-tools.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export interface VerifyResult {
  status: number | null;
  stderr: string;
}

/**
 * Verify `files` with a private HOME and runtime folder in `workDir`, so it
 * needs no login session. Throws when systemd-analyze cannot be run at all:
 * a missing tool must fail the test, never pass for "verify found a fault".
 */
export function verifyUserUnits(files: string[], workDir: string): VerifyResult {
  const runtime = path.join(workDir, 'runtime');
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const home = path.join(workDir, 'verify-home');
  mkdirSync(home, { recursive: true });
  const r = spawnSync('systemd-analyze', ['verify', '--user', ...files], {
    env: { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_COLOR: '0' },
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`systemd-analyze could not run (apt-get install systemd): ${r.error.message}`);
  return { status: r.status, stderr: r.stderr };
}
