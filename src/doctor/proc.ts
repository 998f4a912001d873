/**
 * Who a process is (command line, user, process group), and which processes
 * hold a file open. /proc on Linux; ps, lsof and fuser elsewhere. Never
 * throws: what cannot be told is left out.
 */
import { readFile } from 'node:fs/promises';
import type { ProcessInfo } from '../core/checks/facts.js';
import { pidsHolding, userName } from '../adapters/linux-proc.js';
import { runProcess } from '../adapters/process.js';

/** Command line, user and process group of a pid. */
export async function processInfo(pid: number): Promise<ProcessInfo> {
  if (process.platform === 'linux') {
    const info: ProcessInfo = { pid };
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      if (argv.length) info.command = argv.join(' ');
    } catch {
      // gone, or not ours to read
    }
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      info.pgid = Number(fields[2]);
    } catch {
      // gone
    }
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (uid !== undefined) info.user = await userName(Number(uid));
      const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
      if (ppid !== undefined) info.ppid = Number(ppid);
    } catch {
      // gone
    }
    return info;
  }
  if (process.platform === 'win32') return { pid };
  const r = await runProcess('ps', ['-o', 'pgid=,ppid=,user=,command=', '-p', String(pid)], { timeoutMs: 5000 });
  const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(r.stdout.trim());
  return m ? { pid, pgid: Number(m[1]), ppid: Number(m[2]), user: m[3], command: m[4] } : { pid };
}

async function holdersFromLsof(files: string[]): Promise<number[] | undefined> {
  const r = await runProcess('lsof', ['-F', 'p', '--', ...files], { timeoutMs: 5000 });
  if (r.error || r.exitCode === undefined) return undefined;
  return [
    ...new Set(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('p'))
        .map((l) => Number(l.slice(1))),
    ),
  ];
}

async function holdersFromFuser(files: string[]): Promise<number[] | undefined> {
  const r = await runProcess('fuser', files, { timeoutMs: 5000 });
  if (r.error || r.exitCode === undefined) return undefined;
  return [...new Set((r.stdout.match(/\d+/g) ?? []).map(Number))];
}

/** Whether `pid` or one of its two nearest ancestors matches `test` (e.g. a worker of an `mlflow server`). */
export async function selfOrAncestor(info: ProcessInfo, test: (p: ProcessInfo) => boolean): Promise<boolean> {
  let current: ProcessInfo | undefined = info;
  for (let depth = 0; current && depth < 3; depth++) {
    if (test(current)) return true;
    if (!current.ppid || current.ppid <= 1) return false;
    current = await processInfo(current.ppid);
  }
  return false;
}

/** The processes that hold any of `files` open (with their command, user and group). */
export async function fileHolders(files: string[]): Promise<ProcessInfo[]> {
  let pids: number[] | undefined;
  for (const probe of process.platform === 'linux'
    ? [pidsHolding, holdersFromFuser, holdersFromLsof]
    : [holdersFromLsof, holdersFromFuser]) {
    try {
      pids = await probe(files);
    } catch {
      pids = undefined;
    }
    if (pids) break;
  }
  return Promise.all((pids ?? []).filter((p) => p !== process.pid).map((pid) => processInfo(pid)));
}
