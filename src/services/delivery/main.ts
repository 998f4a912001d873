/**
 * The delivery process's entry point (bundled to `claude-mlflow-deliver.mjs`,
 * installed beside the hook runtime). It exits 0 when done, and never
 * outlives its bound.
 */
import { dataDir, paths } from '../../config.js';
import { logLine } from '../../adapters/log.js';
import { runDeliveryWorker, WORKER_TIMING } from './worker.js';

export async function deliveryMain(): Promise<never> {
  const files = paths(dataDir());
  const log = (level: 'error' | 'warn' | 'info', message: string): void => logLine(files.hookLog, level, message);
  const cap = setTimeout(() => process.exit(0), WORKER_TIMING.maxLifeMs + 60_000);
  cap.unref();
  try {
    await runDeliveryWorker({ spoolDir: files.spool, env: process.env, log });
  } catch (error) {
    log('error', `delivery failed: ${(error as Error).message || String(error)}`);
  }
  process.exit(0);
}
