/** Our MLflow servers as /proc sees them: the `mlflow server` parents (not their workers). */
import { readdirSync, readFileSync } from 'node:fs';

/** The `mlflow server` parents whose argv `matches`. */
function mlflowServers(matches: (argv: string[]) => boolean): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
        return argv.includes('server') && argv.some((a) => a.endsWith('/mlflow')) && matches(argv);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The servers on one SQLite database. */
export function serversOn(database: string): number[] {
  return mlflowServers((argv) => argv.includes(`sqlite:///${database}`));
}

/**
 * The servers that name anything in the data folder `data` (its database or
 * its artifacts), on any port and any database: the ones a pidfile names and
 * the ones none does.
 */
export function serversOfFolder(data: string): number[] {
  return mlflowServers((argv) => argv.some((a) => a.includes(`${data}/`)));
}
