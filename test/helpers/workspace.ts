/** A user's corner of a test: HOME, our data folder and a project, fresh for each case. */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Workspace {
  root: string;
  home: string;
  /** CLAUDE_MLFLOW_HOME. */
  data: string;
  project: string;
  /** The project's .claude/settings.json (not created). */
  settings: string;
  /** data/config.json (not created). */
  config: string;
}

/** `parent/name/{home,data,project}`, created empty. */
export function freshWorkspace(parent: string, name: string): Workspace {
  const root = path.join(parent, name);
  const dirs = { home: path.join(root, 'home'), data: path.join(root, 'data'), project: path.join(root, 'project') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  return { ...dirs, root, settings: path.join(dirs.project, '.claude', 'settings.json'), config: path.join(dirs.data, 'config.json') };
}

/** The trace files waiting in a data folder's spool. */
export function spooledTraces(data: string): string[] {
  const dir = path.join(data, 'spool');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.trace.json')) : [];
}

/** The data folder's hook log: what the hook and its delivery process wrote ('' when nothing). */
export function hookLogOf(data: string): string {
  const file = path.join(data, 'logs', 'hook.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/**
 * Wait until the hook log matches `pattern`: the delivery process writes its
 * failures there after the hook has exited. Returns the log; throws with it
 * after `timeoutMs`.
 */
export async function waitForHookLog(data: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const log = hookLogOf(data);
    if (pattern.test(log)) return log;
    if (Date.now() > until) throw new Error(`the hook log did not match ${pattern} within ${timeoutMs} ms:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
