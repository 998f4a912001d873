/**
 * The delivery process in tests: the hook only spools, and a detached
 * process of its own delivers. These helpers wait for it, find it and stop it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export function spoolFiles(dataRoot: string): string[] {
  try {
    return readdirSync(path.join(dataRoot, 'spool')).filter((f) => f.endsWith('.trace.json') && !f.startsWith('.'));
  } catch {
    return [];
  }
}

/** Hook inputs written ahead whose turn is not in the spool yet (a hook still at work, or one that was stopped). */
export function pendingFiles(dataRoot: string): string[] {
  try {
    return readdirSync(path.join(dataRoot, 'spool', 'pending')).filter((f) => f.endsWith('.pending.json'));
  } catch {
    return [];
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until the spool is empty (delivered), pending turns included; throws with the hook log after `timeoutMs`. */
export async function waitForSpoolEmpty(dataRoot: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (spoolFiles(dataRoot).length > 0 || pendingFiles(dataRoot).length > 0) {
    if (Date.now() > until) {
      let log = '';
      try {
        log = readFileSync(path.join(dataRoot, 'logs', 'hook.log'), 'utf8');
      } catch {
        // none
      }
      throw new Error(`the spool still holds ${spoolFiles(dataRoot).length} trace(s) after ${timeoutMs} ms; hook.log:\n${log}`);
    }
    await sleep(50);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the delivery lock, when a live process holds it. */
export function deliveryPid(dataRoot: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataRoot, 'spool', '.delivery.lock'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Live processes running a delivery runtime (claude-mlflow-deliver.mjs) for this data folder, from /proc. */
export function deliveryProcesses(dataRoot?: string): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return pids;
  }
  for (const name of entries) {
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmdline.includes('claude-mlflow-deliver.mjs')) continue;
      if (dataRoot !== undefined) {
        const environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
        if (!environ.includes(`CLAUDE_MLFLOW_HOME=${dataRoot}`)) continue;
      }
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie is not running
      pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Stop the delivery processes of this data folder (or all of them) and wait until they are gone. */
export async function stopDelivery(dataRoot?: string): Promise<void> {
  const pids = deliveryProcesses(dataRoot);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const until = Date.now() + 5_000;
  while (pids.some(alive) && Date.now() < until) await sleep(20);
}

/** Inodes of this machine's TCP sockets connected (or connecting) to `port`, from /proc/net/tcp and tcp6. */
function socketsTo(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let rows: string[] = [];
    try {
      rows = readFileSync(table, 'utf8').trim().split('\n').slice(1);
    } catch {
      continue;
    }
    for (const row of rows) {
      const fields = row.trim().split(/\s+/);
      const remotePort = parseInt(fields[2]!.split(':')[1]!, 16);
      const state = fields[3];
      // 01 established, 02 connecting
      if (remotePort === port && (state === '01' || state === '02')) inodes.add(fields[9]!);
    }
  }
  return inodes;
}

/** Which of `pids` hold a TCP connection to `port` right now: the processes talking to the server. */
export function connectedTo(pids: readonly number[], port: number): number[] {
  const sockets = socketsTo(port);
  if (sockets.size === 0) return [];
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
          return target.startsWith('socket:[') && sockets.has(target.slice(8, -1));
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

/**
 * Which of `pids` still have a process-table entry, running or a zombie (exited
 * but never reaped): after a delivery, each process it started must be gone.
 */
export function stillInProcessTable(pids: Iterable<number>): Array<{ pid: number; state: string }> {
  const left: Array<{ pid: number; state: string }> = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      left.push({ pid, state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) });
    } catch {
      // gone, reaped
    }
  }
  return left;
}
