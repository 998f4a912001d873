/** `status` on one screen, with two small bar charts side by side. */
import { formatAge } from '../core/checks/format.js';
import { formatBytes, plural } from '../core/format.js';
import type { DayBucket, StatusData } from './collect.js';

const EIGHTHS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The spool and its delivery: what waits, since when, whether a delivery process is at work, the last delivery. */
function spoolLine(spool: StatusData['spool'], now: number, c: (code: string, text: string) => string): string {
  const since = (iso: string | null): string => (iso === null ? '' : formatAge(Math.max(0, now - Date.parse(iso))));
  const parts: string[] = [];
  if (spool.waiting === 0) parts.push('empty');
  else {
    const waiting = `${plural(spool.waiting, 'trace')} waiting, the oldest for ${since(spool.oldestSpooledAt)}`;
    parts.push(spool.deliveryPid === null ? c('33', `${waiting} (claude-mlflow flush)`) : `${waiting}`);
  }
  if (spool.deliveryPid !== null) parts.push(`delivering (PID ${spool.deliveryPid})`);
  if (spool.lastDeliveryAt !== null) parts.push(`last delivery ${since(spool.lastDeliveryAt)} ago`);
  if (spool.rejected) parts.push(`${spool.rejected} refused`);
  return parts.join(' · ');
}

export function compactNumber(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

/**
 * A vertical bar chart: `height` rows, one 2-character column per value,
 * eighth blocks for the top of each bar, the maximum on the axis. Every
 * line has the same width.
 */
/** US dollars, short: $0.42, $3.10, $1.2k. */
export function usd(n: number): string {
  if (n < 100) return `$${n.toFixed(2)}`;
  return `$${compactNumber(Math.round(n))}`;
}

export function barChart(
  values: readonly number[],
  options: { height?: number; title: string; labels?: [string, string]; format?: (n: number) => string },
): string[] {
  const height = options.height ?? 4;
  const format = options.format ?? compactNumber;
  const max = Math.max(0, ...values);
  const axis = format(max).length;
  const width = axis + 2 + values.length * 2;
  const rows: string[] = [options.title.slice(0, width).padEnd(width)];
  for (let row = height - 1; row >= 0; row--) {
    const label = row === height - 1 ? format(max).padStart(axis) : row === 0 ? '0'.padStart(axis) : ' '.repeat(axis);
    let line = `${label} ┤`;
    for (const v of values) {
      const eighths = max === 0 ? 0 : Math.round((v / max) * height * 8);
      const fill = Math.max(0, Math.min(8, eighths - row * 8));
      // A non-zero day always shows at least a sliver.
      const ch = fill === 0 && row === 0 && v > 0 ? EIGHTHS[1]! : EIGHTHS[fill]!;
      line += `${ch} `;
    }
    rows.push(line);
  }
  if (options.labels) {
    const [first, last] = options.labels;
    const inner = values.length * 2;
    const gap = Math.max(1, inner - first.length - last.length);
    rows.push(`${' '.repeat(axis + 2)}${first}${' '.repeat(gap)}${last}`.padEnd(width));
  }
  return rows;
}

function sideBySide(left: string[], right: string[], gap = 6): string[] {
  const width = Math.max(...left.map((l) => l.length));
  return Array.from({ length: Math.max(left.length, right.length) }, (_, i) =>
    `${(left[i] ?? '').padEnd(width)}${' '.repeat(gap)}${right[i] ?? ''}`.trimEnd(),
  );
}

function chartLabels(daily: DayBucket[]): [string, string] {
  return [daily[0]!.date.slice(5), daily[daily.length - 1]!.date.slice(5)];
}

/** Colours a text when asked to (an ANSI SGR code), and pads a section's label. */
interface Paint {
  c: (code: string, text: string) => string;
  label: (name: string) => string;
}

export function renderStatus(data: StatusData, options: { color?: boolean } = {}): string[] {
  const c = (code: string, text: string): string => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const paint: Paint = { c, label: (name) => c('1', name.padEnd(11)) };
  return [
    `${c('1', 'claude-mlflow status')}  ${c('2', `project ${data.project}`)}`,
    '',
    ...tracingLines(data, paint),
    ...serverLines(data, paint),
    ...usageLines(data, paint),
    ...databaseLines(data, paint),
    `${paint.label('Spool')}${spoolLine(data.spool, Date.parse(data.generatedAt), c)}`,
    ...chartLines(data),
    ...topSessionLines(data, paint),
    ...data.errors.map((e) => c('33', `! ${e}`)),
  ];
}

function tracingLines(data: StatusData, { c, label }: Paint): string[] {
  const lines = [`${label('Tracing')}${data.tracing.on ? c('32', 'on') : c('31', 'off')} · ${data.tracing.reason}`];
  for (const s of data.tracing.scopes) {
    const state = !s.exists
      ? c('2', 'no file')
      : !s.readable
        ? c('31', 'ignored by Claude Code (not strict JSON; run claude-mlflow doctor)')
        : [
            s.hook ? 'hook' : 'no hook',
            s.enabled === null ? 'MLFLOW_CLAUDE_TRACING_ENABLED unset' : `MLFLOW_CLAUDE_TRACING_ENABLED=${s.enabled}`,
          ].join(' · ');
    lines.push(`${' '.repeat(11)}${s.scope.padEnd(8)} ${state}  ${c('2', s.file)}`);
  }
  return lines;
}

function serverLines(data: StatusData, { c, label }: Paint): string[] {
  const server = data.server;
  const health =
    server.url === null
      ? c('31', 'not set up (run claude-mlflow init)')
      : server.healthy
        ? c('32', 'healthy')
        : c('31', 'not answering /health');
  const extra = [server.version ? `MLflow ${server.version}` : undefined, server.pid ? `PID ${server.pid}` : undefined]
    .filter(Boolean)
    .join(' · ');
  const lines = [
    `${label('Server')}${server.url ?? ''}  ${health}${extra ? ` · ${extra}` : ''}`,
    `${label('Experiment')}${data.experiment.name ?? '(default)'}${data.experiment.id ? ` (id ${data.experiment.id})` : server.healthy ? ' (no traces yet)' : ''}`,
  ];
  if (data.user !== null)
    lines.push(`${label('User')}${data.user} ${c('2', '(traces, tokens and charts count only the traces of this user)')}`);
  return lines;
}

function usageLines(data: StatusData, { c, label }: Paint): string[] {
  if (!data.traces || !data.tokens) return [`${label('Traces')}${c('2', 'unknown: the server does not answer')}`];
  const t = data.traces;
  const k = data.tokens;
  const lines = [
    `${label('Traces')}today ${t.today} · 7 days ${t.last7Days} · 30 days ${t.last30Days}${t.truncated ? ' (more than counted)' : ''}`,
    `${label('Tokens')}today ${compactNumber(k.today)} · 7 days ${compactNumber(k.last7Days)} · 30 days ${compactNumber(k.last30Days)}`,
  ];
  if (data.cost) {
    const d = data.cost;
    lines.push(
      `${label('Cost')}today ${usd(d.today)} · 7 days ${usd(d.last7Days)} · 30 days ${usd(d.last30Days)} ${c('2', '(list prices of the models used)')}`,
    );
  }
  return lines;
}

function databaseLines(data: StatusData, { c, label }: Paint): string[] {
  const db = data.database;
  if (db.postgres) {
    return [
      `${label('Database')}PostgreSQL ${db.bytes === null ? c('2', 'size unknown') : formatBytes(db.bytes)}${c('2', `  ${db.postgres}`)}`,
    ];
  }
  return [
    `${label('Database')}${db.bytes === null ? c('2', db.file ? 'not created yet' : 'remote server') : formatBytes(db.bytes)}${db.file ? c('2', `  ${db.file}`) : ''}`,
  ];
}

function chartLines(data: StatusData): string[] {
  if (!data.daily) return [];
  const labels = chartLabels(data.daily);
  const days = data.daily.length;
  const traces = barChart(
    data.daily.map((d) => d.traces),
    { title: `Traces per day (${days} days)`, labels },
  );
  const tokens = barChart(
    data.daily.map((d) => d.tokens),
    { title: `Tokens per day (${days} days)`, labels },
  );
  const lines = ['', ...sideBySide(traces, tokens)];
  // Only when something was priced: traces of models the price table does not know cost nothing here.
  if (data.daily.some((d) => d.cost > 0)) {
    lines.push(
      '',
      ...barChart(
        data.daily.map((d) => d.cost),
        { title: `Cost per day (${days} days)`, labels, format: usd },
      ),
    );
  }
  return lines;
}

function topSessionLines(data: StatusData, { c }: Paint): string[] {
  if (!data.topSessions || data.topSessions.length === 0) return [];
  return [
    '',
    'Costliest sessions (30 days)',
    ...data.topSessions.map(
      (s) =>
        `  ${usd(s.cost).padStart(8)}  ${s.session}  ${c('2', `${plural(s.traces, 'trace')}, last ${s.lastAt.slice(0, 16).replace('T', ' ')}`)}`,
    ),
  ];
}
