/**
 * Delivery processes are detached: one that retries against a server a test
 * stopped could outlive the test run. Stop those whose data folder is gone
 * (the test that made it has cleaned up); a folder that still exists may
 * belong to a test of another run on this machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { deliveryProcesses, stopDelivery } from './helpers/delivery.js';

const KEY = 'CLAUDE_MLFLOW_HOME=';

export async function teardown(): Promise<void> {
  for (const pid of deliveryProcesses()) {
    try {
      const home = readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .find((v) => v.startsWith(KEY))
        ?.slice(KEY.length);
      if (home && !existsSync(home)) await stopDelivery(home);
    } catch {
      // gone
    }
  }
}
