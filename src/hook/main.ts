/**
 * The installed hook runtime's entry point (bundled to `claude-mlflow-hook.mjs`; the file name is also how settings recognise our hook). It reads
 * the hook input, runs the hook, and exits 0 whatever happens, within the
 * hard cap even if something hangs.
 */
import { dataDir } from '../config.js';
import { logLine } from '../adapters/log.js';
import { paths } from '../config.js';
import { DEFAULT_BUDGET_MS, runHook } from './run-hook.js';

/** The hard cap: the process is gone by then, whatever is still pending. */
export const HARD_CAP_MS = 1700;

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    if (process.stdin.isTTY) {
      resolve('');
      return;
    }
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function hookMain(): Promise<never> {
  const root = dataDir();
  const cap = setTimeout(() => {
    logLine(paths(root).hookLog, 'error', `hook hit its ${HARD_CAP_MS} ms cap and gave up`);
    process.exit(0);
  }, HARD_CAP_MS);
  cap.unref();
  try {
    const stdin = await readStdin();
    await runHook({ stdin, env: process.env, dataRoot: root, budgetMs: DEFAULT_BUDGET_MS });
  } catch (error) {
    logLine(paths(root).hookLog, 'error', `hook failed: ${(error as Error).stack ?? String(error)}`);
  }
  process.exit(0);
}
