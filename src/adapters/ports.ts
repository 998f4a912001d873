/**
 * Local TCP ports: is one free, who holds it, and the next free one.
 * whoListens reads /proc on Linux and asks lsof (macOS) or ss otherwise; it
 * never throws, and returns [] when it cannot tell.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { CliError, EXIT } from '../errors.js';
import { pidsHolding, userName } from './linux-proc.js';
import { runProcess } from './process.js';

export interface PortHolder {
  pid?: number;
  command?: string;
  user?: string;
}

/** Whether we could listen on host:port right now (default host 127.0.0.1). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The first free port at or above `from`. */
export async function nextFreePort(from: number, host = '127.0.0.1'): Promise<number> {
  for (let port = Math.max(1, from); port <= 65535; port += 1) {
    if (await isPortFree(port, host)) return port;
  }
  throw new CliError(`no free port at or above ${from} on ${host}`, EXIT.failure);
}

export function airPlayHint(port: number, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'darwin' || (port !== 5000 && port !== 7000)) return undefined;
  return `On macOS, port ${port} is often taken by AirPlay Receiver (System Settings → General → AirDrop & Handoff).`;
}

/** The processes listening on TCP `port` (any address). [] when nobody does, or when we cannot tell. */
export async function whoListens(port: number): Promise<PortHolder[]> {
  try {
    const fromProc = await whoListensProc(port);
    if (fromProc) return fromProc;
  } catch {
    // fall through to the tools
  }
  for (const probe of [whoListensLsof, whoListensSs]) {
    try {
      const holders = await probe(port);
      if (holders) return holders;
    } catch {
      // try the next one
    }
  }
  return [];
}

// ---------------------------------------------------------------- Linux: /proc

const TCP_LISTEN = '0A';

/** Socket inodes (with their owner uid) listening on `port`, from /proc/net/tcp and tcp6. */
async function listeningInodes(port: number): Promise<Map<string, number> | undefined> {
  const inodes = new Map<string, number>();
  let readAny = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (!local || f[3] !== TCP_LISTEN) continue;
      const portHex = local.slice(local.lastIndexOf(':') + 1);
      if (parseInt(portHex, 16) !== port) continue;
      if (f[9] && f[9] !== '0') inodes.set(f[9], Number(f[7]));
    }
  }
  return readAny ? inodes : undefined;
}

/** /proc/<pid>/cmdline as one line ('' when unreadable). */
async function procCommandLine(pid: number): Promise<string> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const line = raw.split('\0').filter(Boolean).join(' ');
    return line || (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return '';
  }
}

async function procUid(pid: number): Promise<number | undefined> {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** undefined when /proc/net is not there (not Linux). */
async function whoListensProc(port: number): Promise<PortHolder[] | undefined> {
  const inodes = await listeningInodes(port);
  if (!inodes) return undefined;
  if (inodes.size === 0) return [];
  const pids = await pidsHolding([...inodes.keys()].map((inode) => `socket:[${inode}]`));
  if (!pids) return undefined;
  if (pids.length === 0) {
    // Someone else's process: we may read the socket's owner, not its fds.
    const uids = [...new Set(inodes.values())];
    return Promise.all(uids.map(async (uid) => ({ user: await userName(uid) })));
  }
  return Promise.all(
    pids.map(async (pid) => {
      const uid = await procUid(pid);
      const command = await procCommandLine(pid);
      return { pid, ...(command ? { command } : {}), ...(uid === undefined ? {} : { user: await userName(uid) }) };
    }),
  );
}

// ---------------------------------------------------------------- lsof (macOS), ss

async function psCommand(pid: number): Promise<string | undefined> {
  const r = await runProcess('ps', ['-o', 'command=', '-p', String(pid)], { timeoutMs: 5000, killSignal: 'SIGTERM' });
  const line = r.stdout.trim();
  return r.exitCode === 0 && line ? line : undefined;
}

/** `lsof -F` prints one field per line: p<pid>, c<command>, u<uid>, L<login>. */
async function whoListensLsof(port: number): Promise<PortHolder[] | undefined> {
  const r = await runProcess('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-FpcuL'], { timeoutMs: 10_000, killSignal: 'SIGTERM' });
  if (r.exitCode === undefined) return undefined; // no lsof
  const holders: PortHolder[] = [];
  let current: PortHolder | undefined;
  for (const line of r.stdout.split('\n')) {
    const tag = line[0];
    const value = line.slice(1);
    if (tag === 'p') {
      current = { pid: Number(value) };
      holders.push(current);
    } else if (current && tag === 'c') current.command = value;
    else if (current && tag === 'L') current.user = value;
    else if (current && tag === 'u' && !current.user) current.user = value;
  }
  if (holders.length === 0 && r.exitCode !== 0 && r.exitCode !== 1) return undefined;
  for (const holder of holders) holder.command = (await psCommand(holder.pid!)) ?? holder.command;
  return holders;
}

/** `ss -ltnpH` lines end in users:(("name",pid=123,fd=5),...) when we may see the process. */
async function whoListensSs(port: number): Promise<PortHolder[] | undefined> {
  const r = await runProcess('ss', ['-ltnpH', `sport = :${port}`], { timeoutMs: 10_000, killSignal: 'SIGTERM' });
  if (r.exitCode !== 0) return undefined;
  const holders = new Map<number, PortHolder>();
  for (const line of r.stdout.split('\n')) {
    for (const m of line.matchAll(/\("([^"]*)",pid=(\d+)/g)) {
      const pid = Number(m[2]);
      if (!holders.has(pid)) holders.set(pid, { pid, command: (await psCommand(pid)) ?? m[1] });
    }
  }
  return [...holders.values()];
}
