/**
 * `doctor`'s checks: pure functions from facts to results, no I/O. This is
 * their registry (the order doctor runs and prints them) and the helpers that
 * select, run and sum them up. The fact types are in facts.ts, what a check is
 * in check.ts, and the checks themselves in one module per group.
 *
 * doctor gathers the facts (`src/doctor/facts.ts` and its `gather-*.ts`); each check names
 * the facts it reads (`needs`), so `doctor --check <id>` gathers only those.
 * A check never reads a fact it did not declare (test/core/checks.test.ts
 * holds every check to that with a proxy that throws).
 */
import { FIX_IDS, type Check, type CheckResult, type CheckStatus, type FixId, type GroupId } from './check.js';
import type { FactKey, Facts } from './facts.js';
import { dbHealthCheck, dbLockCheck, dbSizeCheck } from './database.js';
import { deepCheck, hookLogCheck, redactionCheck, spoolCheck } from './delivery.js';
import { pgConnectionCheck, pgConnectionsCheck, pgMigrationCheck } from './postgres.js';
import {
  hookCommandCheck,
  hookRuntimeCheck,
  hookStartsCheck,
  mlflowInstalledCheck,
  mlflowVersionCheck,
  nodeCheck,
  pythonCheck,
} from './runtime.js';
import { portCheck, serverCheck, trackingUriCheck } from './server.js';
import { lingerCheck, serviceCheck } from './service.js';
import {
  foreignTracerCheck,
  hooksEnabledCheck,
  hookOnceCheck,
  settingsEnvCheck,
  settingsJsonCheck,
  settingsSecretsCheck,
  tracingEnabledCheck,
} from './settings.js';

/** doctor's groups, in the order it prints them. */
export const GROUPS: ReadonlyArray<{ id: GroupId; title: string }> = [
  { id: 'runtime', title: 'Runtime' },
  { id: 'python', title: 'Python and MLflow' },
  { id: 'server', title: 'Server' },
  { id: 'database', title: 'Database' },
  { id: 'settings', title: 'Claude Code settings' },
  { id: 'service', title: 'Service' },
  { id: 'spool', title: 'Spool and hook log' },
  { id: 'deep', title: 'End to end (--deep)' },
];

export const CHECKS: readonly Check[] = [
  nodeCheck,
  hookRuntimeCheck,
  hookCommandCheck,
  hookStartsCheck,
  pythonCheck,
  mlflowInstalledCheck,
  mlflowVersionCheck,
  serverCheck,
  trackingUriCheck,
  portCheck,
  dbLockCheck,
  dbHealthCheck,
  pgConnectionCheck,
  pgConnectionsCheck,
  pgMigrationCheck,
  dbSizeCheck,
  settingsJsonCheck,
  hookOnceCheck,
  foreignTracerCheck,
  hooksEnabledCheck,
  tracingEnabledCheck,
  settingsEnvCheck,
  settingsSecretsCheck,
  serviceCheck,
  lingerCheck,
  spoolCheck,
  hookLogCheck,
  redactionCheck,
  deepCheck,
];

export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

export function findCheck(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}

/** The checks to run: one by id, or all (the deep one only when asked). */
export function selectChecks(options: { check?: string; deep?: boolean }): Check[] {
  if (options.check !== undefined) {
    const one = findCheck(options.check);
    return one ? [one] : [];
  }
  return CHECKS.filter((c) => !c.deep || options.deep);
}

/** The facts a set of checks needs. */
export function neededFacts(checks: readonly Check[]): FactKey[] {
  return [...new Set(checks.flatMap((c) => c.needs))];
}

/** Run one check; a check that throws is reported as failed, never thrown. */
export function runCheck(check: Check, facts: Facts): CheckResult {
  try {
    return { id: check.id, ...check.run(facts) };
  } catch (error) {
    return { id: check.id, status: 'fail', message: `doctor could not run this check: ${(error as Error).message}` };
  }
}

export interface Summary {
  checks: number;
  passed: number;
  warnings: number;
  failed: number;
  skipped: number;
  /** Checks that failed: the exit code is 1 when there is one. Warnings are counted apart. */
  problems: number;
}

export function summarize(results: readonly CheckResult[]): Summary {
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  const failed = count('fail');
  const warnings = count('warn');
  return { checks: results.length, passed: count('ok'), warnings, failed, skipped: count('skip'), problems: failed };
}

/** 0 when nothing failed (warnings allowed), 1 when a check failed. Bad usage (2) is decided before. */
export function exitCodeFor(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

/** The auto fixes offered by these results, once each, in the order they are applied. */
export function offeredFixes(results: readonly CheckResult[]): FixId[] {
  const wanted = new Set(
    results
      .filter((r) => r.status === 'fail' || r.status === 'warn')
      .map((r) => r.fix?.auto)
      .filter((f): f is FixId => !!f),
  );
  return FIX_IDS.filter((id) => wanted.has(id));
}
