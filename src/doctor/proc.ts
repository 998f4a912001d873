/**
 * Who a process is (command line, user, process group), and which processes
 * hold a file open. /proc on Linux; ps, lsof and fuser elsewhere. Never
 * throws: what cannot be told is left out.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { execa } from 'execa';
import type { ProcessInfo } from '../core/checks.js';

let passwd: Map<number, string> | undefined;

async function userName(uid: number): Promise<string> {
  if (!passwd) {
    passwd = new Map();
    try {
      for (const line of (await readFile('/etc/passwd', 'utf8')).split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id) passwd.set(Number(id), name);
      }
    } catch {
      // uids, then
    }
  }
  return passwd.get(uid) ?? String(uid);
}

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
      const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (uid !== undefined) info.user = await userName(Number(uid));
    } catch {
      // gone
    }
    return info;
  }
  if (process.platform === 'win32') return { pid };
  const r = await execa('ps', ['-o', 'pgid=,user=,command=', '-p', String(pid)], { reject: false, stdin: 'ignore', timeout: 5000 });
  const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(String(r.stdout ?? '').trim());
  return m ? { pid, pgid: Number(m[1]), user: m[2], command: m[3] } : { pid };
}

/** PIDs with any of `files` open (Linux: /proc/<pid>/fd). undefined when /proc is not there. */
async function holdersFromProc(files: string[]): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const wanted = new Set(files);
  const pids: number[] = [];
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
      .map(async (entry) => {
        let fds: string[];
        try {
          fds = await readdir(`/proc/${entry}/fd`);
        } catch {
          return;
        }
        for (const fd of fds) {
          const link = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
          if (wanted.has(link)) {
            pids.push(Number(entry));
            return;
          }
        }
      }),
  );
  return pids.sort((a, b) => a - b);
}

async function holdersFromLsof(files: string[]): Promise<number[] | undefined> {
  const r = await execa('lsof', ['-F', 'p', '--', ...files], { reject: false, stdin: 'ignore', timeout: 5000 });
  if (r.failed && r.exitCode === undefined) return undefined;
  return [...new Set(String(r.stdout ?? '').split('\n').filter((l) => l.startsWith('p')).map((l) => Number(l.slice(1))))];
}

async function holdersFromFuser(files: string[]): Promise<number[] | undefined> {
  const r = await execa('fuser', files, { reject: false, stdin: 'ignore', timeout: 5000 });
  if (r.failed && r.exitCode === undefined) return undefined;
  return [...new Set((String(r.stdout ?? '').match(/\d+/g) ?? []).map(Number))];
}

/** The processes that hold any of `files` open (with their command, user and group). */
export async function fileHolders(files: string[]): Promise<ProcessInfo[]> {
  let pids: number[] | undefined;
  for (const probe of process.platform === 'linux' ? [holdersFromProc, holdersFromFuser, holdersFromLsof] : [holdersFromLsof, holdersFromFuser]) {
    try {
      pids = await probe(files);
    } catch {
      pids = undefined;
    }
    if (pids) break;
  }
  return Promise.all((pids ?? []).filter((p) => p !== process.pid).map((pid) => processInfo(pid)));
}
