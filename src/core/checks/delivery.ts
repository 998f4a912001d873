/** The spool and hook log group (delivery, hook errors, redaction) and the end-to-end --deep check. */
import type { Check } from './check.js';
import type { SpoolFacts } from './facts.js';
import { plural } from '../format.js';
import { clip, formatAge } from './format.js';
import { ok, skip } from './outcomes.js';

/** A trace waiting longer than this is worth a warning, whatever the delivery process is doing. */
export const SPOOL_WAIT_WARN_MS = 60 * 60_000;
/** A hook error newer than this is reported. */
export const HOOK_ERROR_WINDOW_MS = 24 * 3600 * 1000;

function deliveryDetails(spool: SpoolFacts, now: number): string[] {
  const d = spool.delivery ?? {};
  const details: string[] = [];
  details.push(d.runningPid ? `a delivery process is at work (PID ${d.runningPid})` : 'no delivery process is running');
  if (d.lastSuccessAt) details.push(`last delivery ${formatAge(now - d.lastSuccessAt)} ago`);
  if (d.lastFailureAt && d.lastError) details.push(`last failure ${formatAge(now - d.lastFailureAt)} ago: ${d.lastError}`);
  return details;
}

export const spoolCheck: Check = {
  id: 'spool',
  group: 'spool',
  title: 'Traces are delivered from the spool',
  needs: ['spool'],
  run({ spool }) {
    const now = spool.nowMs ?? Date.now();
    const details: string[] = [];
    if (spool.unreadable) details.push(`${plural(spool.unreadable, 'unreadable file')} in ${spool.dir}`);
    if (spool.rejected) details.push(`${plural(spool.rejected, 'trace')} the server refused, kept in ${spool.dir}/rejected`);
    const delivery = deliveryDetails(spool, now);
    if (spool.count === 0) {
      if (details.length) return { status: 'warn', message: 'The spool is empty, but has leftovers.', details: [...details, ...delivery] };
      return ok('empty', delivery);
    }
    const oldestAt = spool.oldest ? Date.parse(spool.oldest) : NaN;
    const waited = Number.isNaN(oldestAt) ? undefined : now - oldestAt;
    const waiting = `${plural(spool.count, 'trace')} waiting${waited !== undefined ? ` (the oldest for ${formatAge(waited)})` : ''}`;
    const d = spool.delivery ?? {};
    const failing = d.lastFailureAt !== undefined && d.lastFailureAt >= (d.lastSuccessAt ?? 0);
    if ((waited ?? 0) > SPOOL_WAIT_WARN_MS || failing || !d.runningPid) {
      const why =
        (waited ?? 0) > SPOOL_WAIT_WARN_MS
          ? 'waited more than an hour'
          : failing
            ? 'the server does not take them'
            : 'no delivery process is at work';
      return {
        status: 'warn',
        message: `${waiting}: ${why}.`,
        details: [...delivery, ...details],
        fix: { command: 'claude-mlflow flush', auto: 'flush-spool' },
      };
    }
    return ok(`${waiting}, being delivered`, [...delivery, ...details]);
  },
};

export const hookLogCheck: Check = {
  id: 'hook-log',
  group: 'spool',
  title: 'No recent hook errors',
  needs: ['hookLog'],
  run({ hookLog }) {
    const last = hookLog.lastError;
    const evicted = hookLog.evicted;
    const evictedAt = evicted?.lastAt ? Date.parse(evicted.lastAt) : NaN;
    if (evicted && evicted.count > 0 && (Number.isNaN(evictedAt) || hookLog.nowMs - evictedAt < HOOK_ERROR_WINDOW_MS)) {
      return {
        status: 'warn',
        message: `The spool was full: the hook dropped ${plural(evicted.count, 'trace')} without delivering ${evicted.count === 1 ? 'it' : 'them'}${Number.isNaN(evictedAt) ? '' : ` (last ${formatAge(hookLog.nowMs - evictedAt)} ago)`}.`,
        details: [
          'The server was unreachable for longer than the spool holds: make it reachable, or raise CLAUDE_MLFLOW_SPOOL_MAX (default 1000).',
          `log (the dropped trace ids): ${hookLog.file}`,
          ...(last ? [`last error: ${clip(last.text, 200)}`] : []),
        ],
      };
    }
    if (!last) return ok('no errors logged');
    const at = last.at ? Date.parse(last.at) : NaN;
    const recent = Number.isNaN(at) || hookLog.nowMs - at < HOOK_ERROR_WINDOW_MS;
    if (!recent) return ok(`last error ${formatAge(hookLog.nowMs - at)} ago`, [last.text]);
    return {
      status: 'warn',
      message: `The hook logged an error${Number.isNaN(at) ? '' : ` ${formatAge(hookLog.nowMs - at)} ago`}: ${clip(last.text, 200)}`,
      details: [`log: ${hookLog.file}`],
    };
  },
};

export const redactionCheck: Check = {
  id: 'redaction',
  group: 'spool',
  title: 'Secrets are redacted before traces leave this machine',
  needs: ['context'],
  run({ context }) {
    const r = context.redaction;
    if (!r) return skip('Not known (no config).');
    if (!r.enabled) {
      return {
        status: 'warn',
        message: 'Redaction is off (config.json): tokens, passwords and keys that sessions type, read or run go to MLflow as they are.',
        fix: { command: `${context.cli} init --redact` },
      };
    }
    const extra = [
      r.extraPatterns ? plural(r.extraPatterns, 'extra pattern') : undefined,
      r.allow ? plural(r.allow, 'allowed value') : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    const message = `on: ${r.rules} rules (${r.source}) and ours${extra ? `; ${extra}` : ''}`;
    if (r.badPatterns.length) {
      return {
        status: 'warn',
        message: `${message}; ${plural(r.badPatterns.length, 'extra pattern')} in config.json ${r.badPatterns.length === 1 ? 'does' : 'do'} not compile and ${r.badPatterns.length === 1 ? 'is' : 'are'} skipped.`,
        details: r.badPatterns,
      };
    }
    return ok(message);
  },
};

export const deepCheck: Check = {
  id: 'deep',
  group: 'deep',
  title: 'A synthetic session is traced end to end',
  needs: ['deep'],
  deep: true,
  run({ deep }) {
    if (!deep.requested) return skip('Run with --deep.');
    if (!deep.ran) return skip(deep.reason ?? 'Could not run the hook.');
    const details = [`command: ${deep.command}`, `trace ${deep.traceId}`];
    const ms = Math.round(deep.ms ?? 0);
    if (deep.arrived) {
      return ok(`the hook delivered a trace in ${ms} ms${deep.deleted ? ' (deleted again)' : ' (could not delete it again)'}`, details);
    }
    const failDetails = [...details, ...(deep.error ? [deep.error] : [])];
    if (deep.spooled) {
      return {
        status: 'fail',
        message: `The hook ran (${ms} ms) but the trace was still in the spool 10 s later: the server did not take it.`,
        details: failDetails,
      };
    }
    return { status: 'fail', message: `The hook ran (exit ${deep.exitCode ?? '?'}, ${ms} ms) but no trace arrived.`, details: failDetails };
  },
};
