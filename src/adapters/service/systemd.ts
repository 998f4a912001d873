/**
 * systemd --user (Linux): a unit in ~/.config/systemd/user, managed with
 * `systemctl --user`. Without lingering, the user's manager (and the server)
 * stops at logout: see ensureLinger.
 *
 * Quoting (systemd.syntax(7), systemd.service(5)): ExecStart= words are
 * double-quoted with `\` and `"` backslash-escaped; `%` is a specifier
 * everywhere (`%%`); `$` starts a variable in the arguments (`$$`) but not in
 * the executable path, which systemd never expands (a `$$` there stays `$$`).
 * WorkingDirectory= and StandardOutput=append: take the raw rest of the line:
 * only `%` is escaped there. Environment= assignments are quoted like words,
 * but `$` has no meaning in them.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { CliError, EXIT } from '../../errors.js';
import { quoteArg } from '../../core/shell-quote.js';
import { writeFileAtomic } from '../fs-atomic.js';
import {
  assertSpec,
  commandError,
  ensureLogDirs,
  fillTemplate,
  loadTemplate,
  posixEnvironment,
  runChecked,
  serviceName,
} from './common.js';
import type { ManagerContext, RunResult, ServiceManager, ServiceSpec, ServiceStatus } from './types.js';

const escapeQuoted = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');

/** One ExecStart= argument (not the executable): quoted, `\ " % $` escaped. */
export function systemdQuote(arg: string): string {
  return `"${escapeQuoted(arg).replace(/\$/g, () => '$$')}"`;
}

/**
 * The ExecStart= executable path: quoted, `%` escaped; `$` stays as is
 * (systemd does not expand it there). systemd refuses an executable whose
 * path has a quote or a backslash ("Executable name contains special
 * characters"), so such a path is an error here: use the background manager.
 */
export function systemdQuoteExecutable(path: string): string {
  if (/["'\\]/.test(path)) {
    throw new CliError(`systemd cannot run an executable whose path contains a quote or a backslash: ${path}`, EXIT.failure);
  }
  return `"${escapeQuoted(path)}"`;
}

/** An unquoted path setting (WorkingDirectory=, append:): only specifiers are escaped. */
export function systemdPath(what: string, path: string): string {
  if (/^\s|\s$|\\$/.test(path)) {
    throw new CliError(
      `${what} cannot start or end with whitespace or end with a backslash in a systemd unit: ${JSON.stringify(path)}`,
      EXIT.failure,
    );
  }
  return path.replace(/%/g, '%%');
}

/** `claude-mlflow-server.service` for 'dev.claude-mlflow.server'. */
export function systemdUnitName(label: string): string {
  return `${serviceName(label)}.service`;
}

export function renderUnit(spec: ServiceSpec): string {
  assertSpec(spec);
  return fillTemplate(loadTemplate('systemd.service'), {
    LABEL: spec.label,
    EXEC_START: [systemdQuoteExecutable(spec.mlflowBin), ...spec.args.map(systemdQuote)].join(' '),
    WORKING_DIRECTORY: systemdPath('workingDirectory', spec.workingDirectory),
    ENVIRONMENT: posixEnvironment(spec)
      .map(([k, v]) => `Environment="${escapeQuoted(`${k}=${v}`)}"`)
      .join('\n'),
    STDOUT_PATH: systemdPath('stdoutPath', spec.stdoutPath),
    STDERR_PATH: systemdPath('stderrPath', spec.stderrPath),
  });
}

/** `systemctl show` output (`Key=value` lines). */
export function parseShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export function createSystemdManager(ctx: ManagerContext): ServiceManager {
  const configHome =
    ctx.env.XDG_CONFIG_HOME && posix.isAbsolute(ctx.env.XDG_CONFIG_HOME) ? ctx.env.XDG_CONFIG_HOME : join(ctx.home, '.config');
  const unitPath = (spec: ServiceSpec): string => join(configHome, 'systemd', 'user', systemdUnitName(spec.label));
  return {
    name: 'systemd',
    unitPath,
    render: renderUnit,
    install: (spec) => installUnit(ctx, unitPath(spec), spec),
    async start(spec) {
      await mustSystemctl(ctx, 'start', systemdUnitName(spec.label));
    },
    async stop(spec) {
      await mustSystemctl(ctx, 'stop', systemdUnitName(spec.label));
    },
    async restart(spec) {
      await mustSystemctl(ctx, 'restart', systemdUnitName(spec.label));
    },
    uninstall: (spec) => uninstallUnit(ctx, unitPath(spec), spec),
    status: (spec) => unitStatus(ctx, unitPath(spec), spec),
  };
}

function systemctl(ctx: ManagerContext, ...args: string[]): Promise<RunResult> {
  return ctx.run('systemctl', ['--user', ...args]);
}

function mustSystemctl(ctx: ManagerContext, ...args: string[]): Promise<RunResult> {
  return runChecked(ctx, 'systemctl', ['--user', ...args]);
}

/**
 * Write the unit, daemon-reload, then `enable --now`. When an older, different unit was
 * replaced, `enable` + `restart` instead, so that a running server picks up the change.
 */
async function installUnit(ctx: ManagerContext, file: string, spec: ServiceSpec): Promise<void> {
  const text = renderUnit(spec);
  ensureLogDirs(spec);
  let before: string | undefined;
  try {
    before = readFileSync(file, 'utf8');
  } catch {
    before = undefined;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, text, 0o644);
  const unit = systemdUnitName(spec.label);
  await mustSystemctl(ctx, 'daemon-reload');
  if (before !== undefined && before !== text) {
    await mustSystemctl(ctx, 'enable', unit);
    await mustSystemctl(ctx, 'restart', unit);
  } else {
    await mustSystemctl(ctx, 'enable', '--now', unit);
  }
}

/** `disable --now` (a unit systemd does not know is fine), remove the file, daemon-reload. */
async function uninstallUnit(ctx: ManagerContext, file: string, spec: ServiceSpec): Promise<void> {
  const unit = systemdUnitName(spec.label);
  const r = await systemctl(ctx, 'disable', '--now', unit);
  if (r.exitCode !== 0 && existsSync(file) && !/not (be )?found|does not exist|not loaded/i.test(r.stderr)) {
    throw commandError('systemctl', ['--user', 'disable', '--now', unit], r);
  }
  rmSync(file, { force: true });
  await mustSystemctl(ctx, 'daemon-reload');
}

async function unitStatus(ctx: ManagerContext, file: string, spec: ServiceSpec): Promise<ServiceStatus> {
  const installed = existsSync(file);
  const r = await systemctl(ctx, 'show', systemdUnitName(spec.label), '-p', 'ActiveState,UnitFileState,MainPID');
  if (r.exitCode !== 0) return { installed, enabled: false, running: false, detail: (r.stderr || r.stdout).trim() };
  const props = parseShow(r.stdout);
  const active = props.ActiveState ?? '';
  const unitFileState = props.UnitFileState ?? '';
  const running = active === 'active';
  const pid = Number(props.MainPID);
  return {
    installed,
    enabled: unitFileState === 'enabled' || unitFileState === 'enabled-runtime',
    running,
    ...(running && Number.isInteger(pid) && pid > 0 ? { pid } : {}),
    detail: `ActiveState=${active || '-'}, UnitFileState=${unitFileState || '-'}`,
  };
}

/** The command that keeps a user's services running after logout (and starts them at boot). */
export function lingerCommand(user: string): string {
  return `loginctl enable-linger ${quoteArg(user, 'linux')}`;
}

/**
 * Lingering for `user`: already on, or switched on now (allowed without
 * root for oneself by the default polkit rules on most distributions); when
 * that fails, the exact command to print for the user to run.
 */
export async function ensureLinger(ctx: ManagerContext, user: string): Promise<{ enabled: boolean; command?: string }> {
  const shown = await ctx.run('loginctl', ['show-user', user, '-p', 'Linger']);
  if (shown.exitCode === 0 && /^Linger=yes$/m.test(shown.stdout)) return { enabled: true };
  const enabled = await ctx.run('loginctl', ['enable-linger', user]);
  if (enabled.exitCode === 0) return { enabled: true };
  return { enabled: false, command: `sudo ${lingerCommand(user)}` };
}
