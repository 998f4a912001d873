/**
 * Our own files that `cleanup` tidies with the same cut-off:
 * - logs in `<data>/logs`: rotated files (`hook.log.1`, `server.log.1`, …)
 *   last written before the cut-off are deleted; `hook.log` keeps only its
 *   lines from after the cut-off (each line starts with an ISO time);
 *   `server.log` is rotated (to `server.log.1`) when it is over 1 MB and the
 *   server is not running (it holds the file open otherwise);
 * - spooled traces (`<data>/spool`, and `spool/rejected`) spooled before the
 *   cut-off: offered for delivery (`flush`) or deletion, never deleted
 *   without being asked;
 * - MLflow's own hook logs in the project (`.claude/mlflow/claude_tracing.log`
 *   and its rotations) last written before the cut-off.
 */
import { readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { listSpoolFiles } from '../adapters/spool.js';
import { writeFileAtomic } from '../adapters/fs-atomic.js';
import { paths } from '../config.js';

export const SERVER_LOG_ROTATE_BYTES = 1_000_000;

export interface LogAction {
  file: string;
  action: 'delete' | 'trim';
  /** Bytes freed (for trim: the old lines). */
  bytes: number;
}

export interface OwnFilesPlan {
  logs: LogAction[];
  /** Spooled traces (waiting for delivery) spooled before the cut-off. */
  spool: { file: string; bytes: number }[];
  /** Traces the server refused for good (spool/rejected), spooled before the cut-off. */
  rejected: { file: string; bytes: number }[];
  /** MLflow's own hook logs in the project, last written before the cut-off. */
  mlflowHookLogs: { file: string; bytes: number }[];
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function stat(file: string): { size: number; mtimeMs: number; isFile: boolean } | undefined {
  try {
    const s = statSync(file);
    return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile() };
  } catch {
    return undefined;
  }
}

const LINE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\s/;

/** Bytes of the lines of a timestamped log written before the cut-off (a line without a time goes with the one before). */
function oldLineBytes(text: string, cutoffMs: number): number {
  let offset = 0;
  let cut = 0;
  for (const line of text.split(/(?<=\n)/)) {
    const time = LINE_TIME.exec(line)?.[1];
    if (time !== undefined) {
      if (Date.parse(time) >= cutoffMs) break;
    }
    offset += Buffer.byteLength(line);
    cut = offset;
  }
  return cut;
}

/** When a spool file was spooled: the epoch-ms stamp its name starts with, else its mtime. */
function spooledAt(file: string): number | undefined {
  const stamp = /^(\d{13,15})-/.exec(basename(file))?.[1];
  if (stamp) return Number(stamp);
  return stat(file)?.mtimeMs;
}

export function mlflowHookLogDir(project: string): string {
  return join(project, '.claude', 'mlflow');
}

export function planOwnFiles(options: { dataRoot: string; project: string; cutoffMs: number }): OwnFilesPlan {
  const { dataRoot, project, cutoffMs } = options;
  const p = paths(dataRoot);
  const logs: LogAction[] = [];
  for (const name of listDir(p.logs)) {
    const file = join(p.logs, name);
    const s = stat(file);
    if (!s?.isFile) continue;
    if (/\.log\.\d+$/.test(name)) {
      if (s.mtimeMs < cutoffMs) logs.push({ file, action: 'delete', bytes: s.size });
    } else if (name.endsWith('.log') && name !== basename(p.serverLog)) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      const old = oldLineBytes(text, cutoffMs);
      if (old === 0) continue;
      if (old >= Buffer.byteLength(text)) logs.push({ file, action: 'delete', bytes: s.size });
      else logs.push({ file, action: 'trim', bytes: old });
    }
  }

  const old = (files: string[]): { file: string; bytes: number }[] =>
    files
      .filter((file) => (spooledAt(file) ?? Number.POSITIVE_INFINITY) < cutoffMs)
      .map((file) => ({ file, bytes: stat(file)?.size ?? 0 }));
  const spool = old(listSpoolFiles(p.spool));
  const rejected = old(listSpoolFiles(join(p.spool, 'rejected')));

  const mlflowHookLogs: { file: string; bytes: number }[] = [];
  const dir = mlflowHookLogDir(project);
  for (const name of listDir(dir)) {
    if (!/^claude_tracing\.log(\.\d+)?$/.test(name)) continue;
    const file = join(dir, name);
    const s = stat(file);
    if (s?.isFile && s.mtimeMs < cutoffMs) mlflowHookLogs.push({ file, bytes: s.size });
  }
  return { logs, spool, rejected, mlflowHookLogs };
}

export function ownFilesCount(plan: OwnFilesPlan): number {
  return plan.logs.length + plan.mlflowHookLogs.length;
}

/** Apply the log and MLflow-hook-log actions (the spool is decided separately). Returns what was done. */
export function applyLogActions(plan: OwnFilesPlan, cutoffMs: number): { removed: string[]; trimmed: string[] } {
  const removed: string[] = [];
  const trimmed: string[] = [];
  for (const action of plan.logs) {
    try {
      if (action.action === 'delete') {
        rmSync(action.file, { force: true });
        removed.push(action.file);
      } else {
        // Re-read: the hook may have appended since the plan.
        const text = readFileSync(action.file, 'utf8');
        const cut = oldLineBytes(text, cutoffMs);
        if (cut > 0) {
          writeFileAtomic(action.file, Buffer.from(text).subarray(cut), 0o600);
          trimmed.push(action.file);
        }
      }
    } catch {
      // gone meanwhile, or not ours to touch: leave it
    }
  }
  for (const { file } of plan.mlflowHookLogs) {
    try {
      rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // leave it
    }
  }
  if (plan.mlflowHookLogs.length > 0) {
    const dir = dirname(plan.mlflowHookLogs[0]!.file);
    try {
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      // not empty, or gone
    }
  }
  return { removed, trimmed };
}

export function deleteFiles(files: { file: string }[]): string[] {
  const removed: string[] = [];
  for (const { file } of files) {
    try {
      rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // leave it
    }
  }
  return removed;
}

/** Rotate server.log (→ server.log.1) when it is big; only call while the server is stopped. */
export function rotateServerLog(dataRoot: string): string | undefined {
  const log = paths(dataRoot).serverLog;
  const s = stat(log);
  if (!s || s.size <= SERVER_LOG_ROTATE_BYTES) return undefined;
  try {
    renameSync(log, `${log}.1`);
    return `${log}.1`;
  } catch {
    return undefined;
  }
}
