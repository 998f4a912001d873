/**
 * Linux's /proc and /etc/passwd, for two questions that doctor and the port
 * check both ask: which processes hold a file or a socket open, and whose
 * user id is this. Never throws.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** Whether one of the process's open fds links to one of `wanted` (false when we may not look). */
async function holdsAny(pid: string, wanted: Set<string>): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or not ours to read
  }
  for (const fd of fds) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (wanted.has(link)) return true;
  }
  return false;
}

/**
 * The PIDs, ascending, that have one of `targets` open: a file's path, or a
 * socket as `socket:[<inode>]` (what /proc/<pid>/fd links to). undefined
 * when /proc cannot be read (not Linux).
 */
export async function pidsHolding(targets: Iterable<string>): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const wanted = new Set(targets);
  const pids: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        if (await holdsAny(entry, wanted)) pids.push(Number(entry));
      }),
  );
  return pids.sort((a, b) => a - b);
}

let passwd: Promise<Map<number, string>> | undefined;

/** The user name of a uid, from /etc/passwd (read once); the uid itself when it has none. */
export async function userName(uid: number): Promise<string> {
  passwd ??= readFile('/etc/passwd', 'utf8').then(
    (text) => {
      const names = new Map<number, string>();
      for (const line of text.split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id) names.set(Number(id), name);
      }
      return names;
    },
    () => new Map<number, string>(),
  );
  return (await passwd).get(uid) ?? String(uid);
}
