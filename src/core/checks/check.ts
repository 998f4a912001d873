/**
 * What a check is, and what it returns: a status, a message, and maybe a fix
 * (a command to copy, or one that `doctor --fix` applies by itself).
 */
import type { FactKey, Facts } from './facts.js';

/**
 * - `fail`: traces do not arrive (or arrive twice, or get lost) until this is fixed;
 * - `warn`: traces arrive, but something is degraded or about to break;
 * - `ok`: checked and fine;
 * - `skip`: does not apply here, or could not be checked (the message says why).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** The fixes `doctor --fix` can apply by itself. */
export const FIX_IDS = [
  'rewrite-strict-json',
  'migrate-environment',
  'dedupe-hooks',
  'enable-tracing',
  'set-tracking-uri',
  'reinstall-hook-runtime',
  'rewrite-hook-command',
  'reinstall-mlflow',
  'move-port',
  'start-server',
  'flush-spool',
] as const;
export type FixId = (typeof FIX_IDS)[number];

export interface Fix {
  /** A command to copy. */
  command?: string;
  /** A fix `doctor --fix` applies. */
  auto?: FixId;
}

export interface CheckResult {
  id: string;
  status: CheckStatus;
  message: string;
  details?: string[];
  fix?: Fix;
}

export type GroupId = 'runtime' | 'python' | 'server' | 'database' | 'settings' | 'service' | 'spool' | 'deep';

/** What a check's `run` returns; `runCheck` adds the id. */
export type CheckOutcome = Omit<CheckResult, 'id'>;

export interface Check {
  id: string;
  group: GroupId;
  title: string;
  needs: readonly FactKey[];
  /** Runs only with --deep (or --check <id>). */
  deep?: boolean;
  run(facts: Facts): CheckOutcome;
}
