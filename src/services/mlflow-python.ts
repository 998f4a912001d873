/**
 * The Python that runs an MLflow installation: the interpreter the store
 * probes, the PostgreSQL driver check and the migration run with, so that
 * they see exactly the packages the server sees. Light (no execa): doctor
 * asks before anything heavy is loaded.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

/** The interpreter a script's `#!` line names. */
function shebangOf(file: string): string | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(512);
      const n = readSync(fd, buf, 0, 512, 0);
      const first = buf.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
      const m = /^#!\s*(\S+)/.exec(first);
      return m?.[1] && isAbsolute(m[1]) && !m[1].endsWith('/env') ? m[1] : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** The Python that runs this mlflow executable: its #! line, or the python beside it. */
export function pythonForMlflow(mlflowBin: string): string {
  const shebang = shebangOf(mlflowBin);
  if (shebang) return shebang;
  const dir = dirname(mlflowBin);
  return process.platform === 'win32' ? join(dir, 'python.exe') : join(dir, 'python');
}
