/**
 * The git state of a session's working directory, read from `.git` itself:
 * branch, commit, the origin's URL (credentials stripped) and whether a
 * tracked file differs from the index. No `git` process is started: it costs
 * the hook time, and a repository's own config can make git run programs
 * (core.fsmonitor), which a hook must never do for a project it traces.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export interface GitContext {
  branch?: string;
  commit?: string;
  remoteUrl?: string;
  /** A tracked file differs from the index; undefined when that was not checked (a huge index, an index format we do not read). */
  dirty?: boolean;
}

/** Tracked files past this are not compared (a huge repository): `dirty` stays unknown. */
export const MAX_DIRTY_CHECK_ENTRIES = 20_000;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The repository's git folder (a worktree's own one) and its common folder, from `cwd` up. */
export function findGitDirs(cwd: string): { gitDir: string; commonDir: string; workTree: string } | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const dotGit = join(dir, '.git');
    let gitDir: string | undefined;
    try {
      if (statSync(dotGit).isDirectory()) gitDir = dotGit;
      else {
        const pointer = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
        if (pointer) gitDir = isAbsolute(pointer) ? pointer : resolve(dir, pointer);
      }
    } catch {
      // no .git here
    }
    if (gitDir && existsSync(join(gitDir, 'HEAD'))) {
      const common = readText(join(gitDir, 'commondir'))?.trim();
      return { gitDir, commonDir: common ? resolve(gitDir, common) : gitDir, workTree: dir };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The commit a ref points at: its loose file, else packed-refs. */
function resolveRef(commonDir: string, gitDir: string, ref: string): string | undefined {
  for (const dir of [gitDir, commonDir]) {
    const loose = readText(join(dir, ref))?.trim();
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  const packed = readText(join(commonDir, 'packed-refs')) ?? '';
  for (const line of packed.split('\n')) {
    const [sha, name] = line.trim().split(' ');
    if (name === ref && sha && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
  }
  return undefined;
}

/** The URL without `user:password@` (a token in a clone URL is a secret). */
export function withoutUserInfo(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]*@)?(.*)$/i.exec(url);
  return scheme ? `${scheme[1]}${scheme[3]}` : url;
}

/** `[remote "origin"] url = …` from a git config's text (the first remote when there is no origin). */
export function remoteUrlOf(config: string): string | undefined {
  let section = '';
  const urls = new Map<string, string>();
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    const header = /^\[\s*remote\s+"([^"]*)"\s*\]$/.exec(line);
    if (header) section = header[1]!;
    else if (line.startsWith('[')) section = '';
    const url = /^url\s*=\s*(.+)$/.exec(line)?.[1];
    if (section && url && !urls.has(section)) urls.set(section, url.trim());
  }
  const url = urls.get('origin') ?? urls.values().next().value;
  return url === undefined ? undefined : withoutUserInfo(url);
}

interface IndexEntry {
  path: string;
  mtimeS: number;
  mtimeNs: number;
  size: number;
  mode: number;
  sha: string;
  skip: boolean;
}

/** The entries of a version 2 or 3 index; undefined for another version, or past the cap. */
function readIndex(file: string): IndexEntry[] | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return [];
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'DIRC') return undefined;
  const version = buf.readUInt32BE(4);
  const count = buf.readUInt32BE(8);
  if ((version !== 2 && version !== 3) || count > MAX_DIRTY_CHECK_ENTRIES) return undefined;
  const entries: IndexEntry[] = [];
  let at = 12;
  for (let i = 0; i < count; i++) {
    if (at + 62 > buf.length) return undefined;
    const flags = buf.readUInt16BE(at + 60);
    const extended = version === 3 && (flags & 0x4000) !== 0;
    const extra = extended ? buf.readUInt16BE(at + 62) : 0;
    const pathStart = at + 62 + (extended ? 2 : 0);
    const pathEnd = buf.indexOf(0, pathStart);
    if (pathEnd < 0) return undefined;
    entries.push({
      path: buf.toString('utf8', pathStart, pathEnd),
      mtimeS: buf.readUInt32BE(at + 8),
      mtimeNs: buf.readUInt32BE(at + 12),
      mode: buf.readUInt32BE(at + 24),
      size: buf.readUInt32BE(at + 36),
      sha: buf.toString('hex', at + 40, at + 60),
      // assume-valid, or skip-worktree (sparse checkout): git does not look at the file either
      skip: (flags & 0x8000) !== 0 || (extra & 0x4000) !== 0,
    });
    const entryLength = pathEnd - at;
    at += Math.ceil((entryLength + 1) / 8) * 8;
  }
  return entries;
}

function blobSha(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** Whether the tracked file differs from its index entry: stat first, the content only when stat differs. */
function entryChanged(workTree: string, entry: IndexEntry): boolean {
  const file = join(workTree, entry.path);
  const kind = entry.mode >>> 12;
  if (kind === 0o16) return false; // a submodule: not looked into
  let stat;
  try {
    stat = lstatSync(file, { bigint: true });
  } catch {
    return true; // deleted
  }
  const sameStat =
    Number(stat.size & 0xffffffffn) === entry.size &&
    Number(stat.mtimeNs / 1_000_000_000n) === entry.mtimeS &&
    Number(stat.mtimeNs % 1_000_000_000n) === entry.mtimeNs;
  if (sameStat) return false;
  try {
    const content = kind === 0o12 ? Buffer.from(readlinkSync(file)) : readFileSync(file);
    return blobSha(content) !== entry.sha;
  } catch {
    return true;
  }
}

function dirtyOf(gitDir: string, workTree: string): boolean | undefined {
  const entries = readIndex(join(gitDir, 'index'));
  if (entries === undefined) return undefined;
  // A SHA-256 repository's index holds longer ids: not read.
  if (entries.some((e) => e.sha.length !== 40)) return undefined;
  return entries.some((entry) => !entry.skip && entryChanged(workTree, entry));
}

/** The git state of `cwd`, or undefined outside a repository. Never throws. */
export function gitContextOf(cwd: string): GitContext | undefined {
  try {
    const dirs = findGitDirs(cwd);
    if (!dirs) return undefined;
    const head = readText(join(dirs.gitDir, 'HEAD'))?.trim() ?? '';
    const ref = /^ref:\s*(refs\/.+)$/.exec(head)?.[1];
    const context: GitContext = {};
    if (ref) {
      context.branch = ref.replace(/^refs\/heads\//, '');
      context.commit = resolveRef(dirs.commonDir, dirs.gitDir, ref);
    } else if (/^[0-9a-f]{40,64}$/.test(head)) {
      context.commit = head;
    }
    const remote = remoteUrlOf(readText(join(dirs.commonDir, 'config')) ?? '');
    if (remote) context.remoteUrl = remote;
    const dirty = dirtyOf(dirs.gitDir, dirs.workTree);
    if (dirty !== undefined) context.dirty = dirty;
    return context;
  } catch {
    return undefined;
  }
}

/** The trace metadata for a git context: MLflow's own names where it has them. */
export function gitMetadata(context: GitContext | undefined): Record<string, string> {
  if (!context) return {};
  const metadata: Record<string, string> = {};
  if (context.branch) metadata['mlflow.source.git.branch'] = context.branch;
  if (context.commit) metadata['mlflow.source.git.commit'] = context.commit;
  if (context.remoteUrl) metadata['mlflow.source.git.repoURL'] = context.remoteUrl;
  if (context.dirty !== undefined) metadata['claude_code.git.dirty'] = String(context.dirty);
  return metadata;
}
