/** The results and fixes that several checks share. */
import type { CheckOutcome, Fix, FixId } from './check.js';
import type { Facts } from './facts.js';

export const ok = (message: string, details?: string[]): CheckOutcome => ({
  status: 'ok',
  message,
  ...(details?.length ? { details } : {}),
});
export const skip = (message: string): CheckOutcome => ({ status: 'skip', message });

export function notSetUp(facts: Pick<Facts, 'context'>): CheckOutcome | undefined {
  if (facts.context.configured) return undefined;
  return {
    status: 'fail',
    message: 'claude-mlflow is not set up here (no config.json in the data folder).',
    fix: { command: `${facts.context.cli} init` },
  };
}

/** For the checks after the first: one "not set up" failure is enough. */
export function skipNotSetUp(facts: Pick<Facts, 'context'>): CheckOutcome | undefined {
  return facts.context.configured ? undefined : skip('claude-mlflow is not set up here (see server).');
}

// Fixes that more than one check offers

/** An auto fix, with `doctor --fix` as the command to copy. */
export const doctorFix = (cli: string, auto: FixId): Fix => ({ command: `${cli} doctor --fix`, auto });
export const reinstallHookRuntime = (cli: string): Fix => ({ command: `${cli} hook --print-command`, auto: 'reinstall-hook-runtime' });
export const startServer = (cli: string): Fix => ({ command: `${cli} server start`, auto: 'start-server' });
export const restartServer = (cli: string): Fix => ({ command: `${cli} server stop && ${cli} server start` });
