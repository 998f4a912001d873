/**
 * The installed hook runtime's entry point (bundled to `claude-mlflow-hook.mjs`;
 * the file name is also how settings recognise our hook). It reads the hook
 * input, runs the hook, and exits 0 whatever happens, within the hard cap
 * even if something hangs. It carries no OpenTelemetry code: delivery runs
 * in its own process (src/services/delivery/main.ts).
 */
import { dataDir } from '../config.js';
import { logLine } from '../adapters/log.js';
import { paths } from '../config.js';
import { runHook, writeTurnAhead, type HookProgress } from './run-hook.js';
import { startDelivery } from '../services/delivery/launch.js';

/** The hard cap on the hook's own work, from when it has its input: the process is gone by then, its turn handed to the delivery process. */
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

/** `deliverScript`: the delivery runtime the hook starts. */
export async function hookMain(deliverScript?: string): Promise<never> {
  const root = dataDir();
  // The input is Claude Code's to give (it writes it at once): the cap bounds our own work, from there on.
  const stdin = await readStdin();
  const progress: HookProgress = {};
  const cap = setTimeout(() => {
    // The turn goes to the delivery process, which builds it instead (adapters/pending.ts).
    try {
      if (!progress.done && !progress.pending) progress.pending = writeTurnAhead(stdin, process.env, root);
      if (!progress.done) startDelivery(root, process.env, deliverScript);
      logLine(
        paths(root).hookLog,
        'warn',
        `hook hit its ${HARD_CAP_MS} ms cap${progress.pending ? '; the delivery process traces the turn instead' : ''}`,
      );
    } catch (error) {
      logLine(
        paths(root).hookLog,
        'error',
        `hook hit its ${HARD_CAP_MS} ms cap and could not hand the turn over: ${(error as Error).message}`,
      );
    }
    process.exit(0);
  }, HARD_CAP_MS);
  cap.unref();
  try {
    await runHook({ stdin, env: process.env, dataRoot: root, ...(deliverScript ? { deliverScript } : {}) }, progress);
  } catch (error) {
    logLine(paths(root).hookLog, 'error', `hook failed: ${(error as Error).message || String(error)}`);
  }
  process.exit(0);
}
