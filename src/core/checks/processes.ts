/** Processes that hold our port or our database, as checks describe them. */
import { clip } from './format.js';
import type { ProcessInfo } from './facts.js';

export function describeProcess(p: ProcessInfo): string {
  const parts = [`PID ${p.pid ?? '?'}`];
  if (p.command) parts.push(clip(p.command, 160));
  if (p.user) parts.push(`(user ${p.user})`);
  return parts.join(' ');
}

/** The known PIDs of some processes. */
export function pidsOf(processes: readonly ProcessInfo[]): number[] {
  return processes.map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
}

/** An `mlflow server` process, or one of its uvicorn / gunicorn / huey children. */
export function isMlflowServerCommand(command: string | undefined): boolean {
  return /(?:^|[\s/\\])mlflow(?:\.exe)?['"]?\s+server(?:\s|$)|\bmlflow\.server\b/.test(command ?? '');
}
