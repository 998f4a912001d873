/**
 * Starting the delivery process: detached, in a session of its own, with no
 * stdio, so that Claude Code neither waits for it nor takes it down when
 * `claude -p` exits. It runs the delivery runtime (claude-mlflow-deliver.mjs),
 * which ships beside the hook runtime.
 */
import { existsSync } from 'node:fs';
import { DATA_DIR_ENV, paths } from '../../config.js';
import { bundledHookScript, deliverScriptBeside } from '../../adapters/hook-runtime.js';
import { lockHolder } from '../../adapters/file-lock.js';
import { listPending } from '../../adapters/pending.js';
import { startDetached } from '../../adapters/process.js';
import { listSpoolFiles } from '../../adapters/spool.js';
import { DELIVERY_LOCK, deliveryLockFile } from './state.js';

/** The delivery runtime to run: the one installed in the data folder, else the one in this package. */
export function deliveryScript(dataRoot: string): string {
  const installed = paths(dataRoot).deliverScript;
  return existsSync(installed) ? installed : deliverScriptBeside(bundledHookScript());
}

export type DeliveryStart = { started: true; pid?: number } | { started: false; reason: 'running' | 'empty' | 'failed'; pid?: number };

/**
 * Make sure a delivery process works on the spool: start one unless the spool
 * is empty or one already holds the lock. (A process that is just letting go
 * looks at the spool again after it has, so a trace spooled before this call
 * is never left behind.)
 */
export function startDelivery(dataRoot: string, env: NodeJS.ProcessEnv, script = deliveryScript(dataRoot)): DeliveryStart {
  const spool = paths(dataRoot).spool;
  const holder = lockHolder(deliveryLockFile(spool), DELIVERY_LOCK);
  if (holder) return { started: false, reason: 'running', pid: holder };
  if (listSpoolFiles(spool).length === 0 && listPending(spool).length === 0) return { started: false, reason: 'empty' };
  const child = startDetached(process.execPath, [script], { env: { ...env, [DATA_DIR_ENV]: dataRoot } });
  return { started: true, pid: child.pid };
}
