/**
 * doctor's output: grouped lines for people, one JSON document for machines
 * (its schema is docs/doctor-json-schema.json; bump schemaVersion on any
 * incompatible change).
 */
import type { CheckResult, CheckStatus, FixId } from '../core/checks/check.js';
import { findCheck, GROUPS, type Summary } from '../core/checks/registry.js';
import { plural } from '../core/format.js';

export const SCHEMA_VERSION = 1;

export interface ReportCheck extends CheckResult {
  group: string;
  title: string;
}

export interface FixOutcome {
  id: FixId;
  status: 'applied' | 'failed' | 'pending';
  message: string;
}

export interface DoctorReport {
  schemaVersion: typeof SCHEMA_VERSION;
  tool: 'claude-mlflow';
  version: string;
  generatedAt: string;
  durationMs: number;
  dataDir: string;
  project: string;
  deep: boolean;
  exitCode: 0 | 1;
  summary: Summary;
  checks: ReportCheck[];
  fixes?: FixOutcome[];
}

const SYMBOL: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };
const COLOR: Record<CheckStatus, string> = { ok: '32', warn: '33', fail: '31', skip: '2' };

function paint(enabled: boolean, code: string, text: string): string {
  return enabled ? `\u001b[${code}m${text}\u001b[0m` : text;
}

export function toReportChecks(results: readonly CheckResult[]): ReportCheck[] {
  return results.map((r) => {
    const check = findCheck(r.id);
    return { ...r, group: check?.group ?? 'runtime', title: check?.title ?? r.id };
  });
}

/** `2 warnings, 1 skipped · 24 checks, 1 problem`: always ends with "N checks, M problems". */
export function summaryLine(summary: Summary): string {
  const extras: string[] = [];
  if (summary.warnings) extras.push(plural(summary.warnings, 'warning'));
  if (summary.skipped) extras.push(`${summary.skipped} skipped`);
  return `${extras.length ? `${extras.join(', ')} · ` : ''}${plural(summary.checks, 'check')}, ${plural(summary.problems, 'problem')}`;
}

export function renderHuman(report: DoctorReport, options: { verbose?: boolean; color?: boolean; cli?: string }): string[] {
  const color = Boolean(options.color);
  const cli = options.cli ?? 'claude-mlflow';
  const lines: string[] = [];
  lines.push(`${paint(color, '1', `${cli} doctor`)}  ${paint(color, '2', `data ${report.dataDir} · project ${report.project}`)}`);
  for (const group of GROUPS) {
    const checks = report.checks.filter((c) => c.group === group.id);
    if (checks.length === 0) continue;
    lines.push('', paint(color, '1', group.title));
    for (const c of checks) {
      const mark = paint(color, COLOR[c.status], SYMBOL[c.status]);
      if (c.status === 'ok' || c.status === 'skip') {
        lines.push(`  ${mark} ${c.title}${paint(color, '2', ` · ${c.message}`)}`);
        if (options.verbose) for (const d of c.details ?? []) lines.push(paint(color, '2', `      ${d}`));
        continue;
      }
      lines.push(`  ${mark} ${paint(color, c.status === 'fail' ? '1' : '0', c.title)}`);
      lines.push(`      ${c.message}`);
      for (const d of c.details ?? []) lines.push(paint(color, '2', `      ${d}`));
      if (c.fix?.command) lines.push(`      ${paint(color, '36', 'Fix:')} ${c.fix.command}`);
      if (c.fix?.auto && !(c.fix.command ?? '').includes('doctor --fix'))
        lines.push(`      ${paint(color, '36', 'or:')}  ${cli} doctor --fix`);
    }
  }
  if (report.fixes?.length) {
    lines.push('', paint(color, '1', 'Fixes'));
    for (const f of report.fixes) {
      const mark =
        f.status === 'applied' ? paint(color, '32', '✓') : f.status === 'failed' ? paint(color, '31', '✗') : paint(color, '2', '-');
      lines.push(`  ${mark} ${f.message}`);
    }
  }
  const s = report.summary;
  const status: CheckStatus = s.failed ? 'fail' : s.warnings ? 'warn' : 'ok';
  lines.push('', `${paint(color, COLOR[status], SYMBOL[status])} ${summaryLine(s)}`);
  return lines;
}

export function renderJson(report: DoctorReport): string {
  return JSON.stringify(report, null, 2);
}
