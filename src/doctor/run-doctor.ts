/**
 * `doctor`: gather the facts the selected checks need (concurrently), run the
 * pure checks, print, and with --fix apply the offered fixes and check again.
 */
import { packageVersion } from '../adapters/package-info.js';
import type { CheckResult, FixId } from '../core/checks/check.js';
import type { Facts } from '../core/checks/facts.js';
import { CHECK_IDS, exitCodeFor, neededFacts, offeredFixes, runCheck, selectChecks, summarize } from '../core/checks/registry.js';
import { EXIT } from '../errors.js';
import { gatherFacts, type DoctorEnvironment } from './facts.js';
import { makeMasker, maskDeep, secretValues } from '../core/mask.js';
import { renderHuman, renderJson, SCHEMA_VERSION, toReportChecks, type DoctorReport, type FixOutcome } from './render.js';

export interface DoctorOptions extends DoctorEnvironment {
  check?: string;
  verbose?: boolean;
  json?: boolean;
  fix?: boolean;
  yes?: boolean;
  color?: boolean;
  /** Ask before fixing; undefined when there is no terminal to ask on. */
  confirm?: (message: string) => Promise<boolean>;
  print: (line: string) => void;
  /** Errors (bad usage); default: print. */
  printError?: (line: string) => void;
}

export interface DoctorOutcome {
  exitCode: number;
  report?: DoctorReport;
  /** The report before --fix changed anything. */
  before?: DoctorReport;
}

async function runOnce(options: DoctorOptions): Promise<DoctorReport> {
  const started = performance.now();
  const checks = selectChecks(options);
  const deep = Boolean(options.deep || options.check === 'deep');
  const keys = neededFacts(checks);
  const facts = (await gatherFacts(keys, { ...options, deep, ...(options.json ? {} : { announce: options.print }) })) as Facts;
  const results: CheckResult[] = checks.map((c) => runCheck(c, facts));
  const settingsEnv = (facts.settings?.scopes ?? []).map((s) =>
    s.doc?.env && typeof s.doc.env === 'object' ? (s.doc.env as Record<string, unknown>) : undefined,
  );
  const mask = makeMasker(secretValues(options.env, ...settingsEnv));
  const report: DoctorReport = {
    schemaVersion: SCHEMA_VERSION,
    tool: 'claude-mlflow',
    version: packageVersion(),
    generatedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
    dataDir: options.dataRoot,
    project: options.project,
    deep,
    exitCode: exitCodeFor(results),
    summary: summarize(results),
    checks: toReportChecks(results),
  };
  return maskDeep(report, mask);
}

function output(report: DoctorReport, options: DoctorOptions): void {
  if (options.json) options.print(renderJson(report));
  else for (const line of renderHuman(report, { verbose: options.verbose, color: options.color, cli: options.cli })) options.print(line);
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorOutcome> {
  const printError = options.printError ?? options.print;
  if (options.check !== undefined && !CHECK_IDS.includes(options.check)) {
    printError(`unknown check "${options.check}". Checks: ${CHECK_IDS.join(', ')}`);
    return { exitCode: EXIT.usage };
  }

  const first = await runOnce(options);
  if (!options.fix) {
    output(first, options);
    return { exitCode: first.exitCode, report: first };
  }

  const plan: FixId[] = offeredFixes(first.checks);
  const say = (line: string): void => {
    if (!options.json) options.print(line);
  };
  if (!options.json) output(first, options);
  if (plan.length === 0) {
    say('');
    say('Nothing doctor can fix by itself.');
    if (options.json) output(first, options);
    return { exitCode: first.exitCode, report: first };
  }

  // The fixes load the server, installer and delivery code: only with --fix.
  const { applyFix, FIX_DESCRIPTIONS } = await import('./fix.js');
  say('');
  say(`doctor --fix can apply ${plan.length === 1 ? 'this fix' : `these ${plan.length} fixes`}:`);
  plan.forEach((id, i) => say(`  ${i + 1}. ${FIX_DESCRIPTIONS[id]} [${id}]`));

  let go = Boolean(options.yes);
  if (!go && options.confirm && !options.json)
    go = await options.confirm(`Apply ${plan.length === 1 ? 'it' : `these ${plan.length} fixes`}?`);
  if (!go) {
    const pending: FixOutcome[] = plan.map((id) => ({ id, status: 'pending', message: FIX_DESCRIPTIONS[id] }));
    if (!options.confirm || options.json) say('Nothing was changed: run `claude-mlflow doctor --fix --yes` to apply them.');
    else say('Nothing was changed.');
    if (options.json) output({ ...first, fixes: pending }, options);
    return { exitCode: first.exitCode, report: { ...first, fixes: pending } };
  }

  const fixes: FixOutcome[] = [];
  say('');
  for (const id of plan) {
    const outcome = await applyFix(id, { ...options, progress: options.json ? undefined : (line) => say(`      ${line}`) });
    fixes.push(outcome);
    say(`  ${outcome.status === 'applied' ? '✓' : '✗'} ${outcome.message}`);
  }
  say('');
  say('Checking again:');
  const after = await runOnce(options);
  const mask = makeMasker(secretValues(options.env));
  const report: DoctorReport = { ...after, fixes: maskDeep(fixes, mask) };
  if (options.json) output(report, options);
  else output(after, options);
  return { exitCode: report.exitCode, report, before: first };
}
