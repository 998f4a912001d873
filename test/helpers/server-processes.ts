/** Our MLflow servers as /proc sees them: the `mlflow server` parents (not their workers) on one SQLite database. */
import { readdirSync, readFileSync } from 'node:fs';

export function serversOn(database: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
        return argv.includes('server') && argv.some((a) => a.endsWith('/mlflow')) && argv.includes(`sqlite:///${database}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}
