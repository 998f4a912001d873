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

/**
 * The `mlflow server` parents that name anything in the data folder `data`
 * (its database or its artifacts), on any port and any database: the ones a
 * pidfile names and the ones none does.
 */
export function serversOfFolder(data: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
        return argv.includes('server') && argv.some((a) => a.endsWith('/mlflow')) && argv.some((a) => a.includes(`${data}/`));
      } catch {
        return false;
      }
    })
    .map(Number);
}
