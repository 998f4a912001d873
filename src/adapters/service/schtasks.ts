/**
 * Windows Task Scheduler: a `.cmd` wrapper in the data folder runs mlflow with
 * its arguments and appends its output to the log; an ONLOGON task runs the
 * wrapper. Creating an ONLOGON task needs rights that a standard user often
 * lacks ("Access is denied."); then a launcher in the user's Startup folder
 * takes its place.
 *
 * Nothing here depends on process.platform: every path comes from the context
 * (APPDATA) or the spec, so the tests run it on Linux against a recording fake
 * `schtasks`.
 *
 * Stopping: ending a task (or killing cmd.exe) does not end the processes that
 * the wrapper started, so stop first kills the process tree of every cmd.exe
 * whose command line names the wrapper (PowerShell + taskkill /T), then /End.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, win32 } from 'node:path';
import { CliError, EXIT } from '../../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs-atomic.js';
import {
  assertEnvName,
  assertPrintable,
  assertSpec,
  commandError,
  ensureLogDirs,
  fillTemplate,
  loadTemplate,
  runChecked,
  serviceName,
} from './common.js';
import type { ManagerContext, RunResult, ServiceManager, ServiceSpec, ServiceStatus } from './types.js';

/** Characters cmd.exe treats specially outside double quotes. */
const CMD_SPECIAL = new Set(['^', '&', '|', '<', '>', '(', ')']);

/**
 * One argument for a line of a .cmd file. First quoted for the program's own
 * argv parsing (Microsoft C runtime rules): in double quotes when it is empty
 * or has a space or tab, with the backslashes before the closing quote
 * doubled. Then for cmd.exe: `%` doubled (a batch file expands `%...%` even
 * inside quotes), and `^ & | < > ( )` caret-escaped outside the quotes.
 * `!` is literal: the wrapper runs with DisableDelayedExpansion.
 *
 * A double quote inside an argument is refused: cmd toggles its quote state
 * at every `"`, the C runtime's `\"` included, so the rest of the line (the
 * log redirection too) would change meaning. Windows paths cannot contain one.
 */
export function cmdQuote(arg: string): string {
  assertPrintable('a command argument', arg);
  if (arg.includes('"')) throw new CliError(`a double quote cannot be passed through the .cmd wrapper: ${arg}`, EXIT.failure);
  if (arg === '' || /[ \t]/.test(arg)) return `"${arg.replace(/%/g, '%%').replace(/(\\+)$/, '$1$1')}"`;
  let out = '';
  for (const ch of arg) {
    if (ch === '%') out += '%%';
    else if (CMD_SPECIAL.has(ch)) out += `^${ch}`;
    else out += ch;
  }
  return out;
}

/** A path in a .cmd file: always quoted, `%` doubled. Windows paths cannot contain `"`. */
export function cmdPath(what: string, path: string): string {
  assertPrintable(what, path);
  if (path.includes('"')) throw new CliError(`${what} cannot contain a double quote: ${path}`, EXIT.failure);
  return `"${path.replace(/%/g, '%%')}"`;
}

/** `set "NAME=value"`: inside the quotes only `%` is special. */
function cmdSet(name: string, value: string): string {
  assertEnvName(name);
  assertPrintable(`environment variable ${name}`, value);
  if (value.includes('"')) throw new CliError(`environment variable ${name} cannot contain a double quote in a .cmd file`, EXIT.failure);
  return `set "${name}=${value.replace(/%/g, '%%')}"`;
}

/** PowerShell single-quoted string (it also treats the typographic single quotes as quotes). */
export function psQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, '$&$&')}'`;
}

/** `-EncodedCommand` takes base64 of UTF-16LE: no quoting of the script survives the trip better. */
export function psEncode(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export function taskName(label: string): string {
  return serviceName(label);
}

export function renderWrapper(spec: ServiceSpec): string {
  assertSpec(spec, win32.isAbsolute);
  const binDir = win32.dirname(spec.mlflowBin);
  const env: string[] = [];
  const given = spec.environment.PATH;
  if (given === undefined) {
    // Extend the PATH the task inherits (Windows' own dirs); only this %PATH% is expanded.
    env.push(`set "PATH=${binDir.replace(/%/g, '%%')};%PATH%"`);
  } else {
    const parts = given.split(';').filter(Boolean);
    env.push(cmdSet('PATH', [binDir, ...parts.filter((p) => p.toLowerCase() !== binDir.toLowerCase())].join(';')));
  }
  for (const [k, v] of Object.entries(spec.environment)) if (k !== 'PATH') env.push(cmdSet(k, v));
  const redirects =
    spec.stdoutPath === spec.stderrPath
      ? `>> ${cmdPath('stdoutPath', spec.stdoutPath)} 2>&1`
      : `>> ${cmdPath('stdoutPath', spec.stdoutPath)} 2>> ${cmdPath('stderrPath', spec.stderrPath)}`;
  const text = fillTemplate(loadTemplate('schtasks.cmd'), {
    LABEL: spec.label,
    ENVIRONMENT: env.join('\n'),
    WORKING_DIRECTORY: cmdPath('workingDirectory', spec.workingDirectory),
    COMMAND: [spec.mlflowBin, ...spec.args].map(cmdQuote).join(' '),
    REDIRECTS: redirects,
  });
  return text.replace(/\r?\n/g, '\r\n');
}

/** The Startup-folder launcher: starts the wrapper in its own minimized console and exits. */
export function renderStartupLauncher(wrapper: string): string {
  return [
    '@echo off',
    'rem Generated by claude-mlflow: starts the MLflow server at login (Task Scheduler was not allowed).',
    `start "" /min ${cmdPath('wrapper', wrapper)}`,
    '',
  ].join('\r\n');
}

/** `schtasks /Query /FO LIST /V`: `Key: value` lines; the first block wins. */
export function parseQuery(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m?.[1] && out[m[1].trim()] === undefined) out[m[1].trim()] = (m[2] ?? '').trim();
  }
  return out;
}

const isDenied = (r: RunResult): boolean => /access is denied/i.test(`${r.stderr}\n${r.stdout}`);
const isMissing = (r: RunResult): boolean => /cannot find|does not exist/i.test(`${r.stderr}\n${r.stdout}`);

export interface SchtasksOptions {
  /** The Startup folder (default %APPDATA%\Microsoft\Windows\Start Menu\Programs\Startup). */
  startupDir?: string;
}

/** What the schtasks steps share: the context, and the Startup folder for when a task is not allowed. */
interface TaskScheduler {
  ctx: ManagerContext;
  startupDir: string;
}

export function createSchtasksManager(ctx: ManagerContext, options: SchtasksOptions = {}): ServiceManager {
  const appData = ctx.env.APPDATA || join(ctx.home, 'AppData', 'Roaming');
  const tasks: TaskScheduler = {
    ctx,
    startupDir: options.startupDir ?? join(appData, 'Microsoft', 'Windows', 'Start Menu', 'Programs', 'Startup'),
  };
  return {
    name: 'schtasks',
    unitPath: wrapperPath,
    render: renderWrapper,
    install: (spec) => installTask(tasks, spec),
    start: (spec) => startTask(tasks, spec),
    stop: (spec) => stopTask(tasks, spec),
    async restart(spec) {
      await stopTask(tasks, spec);
      await startTask(tasks, spec);
    },
    uninstall: (spec) => uninstallTask(tasks, spec),
    status: (spec) => taskStatus(tasks, spec),
  };
}

/** The `.cmd` wrapper, in the data folder. */
function wrapperPath(spec: ServiceSpec): string {
  return join(spec.workingDirectory, `${taskName(spec.label)}.cmd`);
}

function startupPath(tasks: TaskScheduler, spec: ServiceSpec): string {
  return join(tasks.startupDir, `${taskName(spec.label)}.cmd`);
}

/** The server runs from the Startup folder, not as a task. */
function startupMode(tasks: TaskScheduler, spec: ServiceSpec): boolean {
  return existsSync(startupPath(tasks, spec));
}

function schtasks(tasks: TaskScheduler, ...args: string[]): Promise<RunResult> {
  return tasks.ctx.run('schtasks', args);
}

function powershell(tasks: TaskScheduler, script: string): Promise<RunResult> {
  return tasks.ctx.run('powershell', ['-NoProfile', '-NonInteractive', '-EncodedCommand', psEncode(script)]);
}

/** cmd.exe processes running the wrapper (lower-cased match: Windows paths are case-insensitive). */
function wrapperProcesses(spec: ServiceSpec): string {
  return (
    `$w = ${psQuote(wrapperPath(spec))}.ToLowerInvariant(); ` +
    `Get-CimInstance Win32_Process | Where-Object { $_.Name -eq 'cmd.exe' -and $_.CommandLine -and $_.CommandLine.ToLowerInvariant().Contains($w) }`
  );
}

async function killWrapperTree(tasks: TaskScheduler, spec: ServiceSpec): Promise<void> {
  await powershell(tasks, `${wrapperProcesses(spec)} | ForEach-Object { & taskkill.exe /PID $_.ProcessId /T /F | Out-Null }`);
}

async function startDetached(tasks: TaskScheduler, spec: ServiceSpec): Promise<void> {
  await runChecked(tasks.ctx, 'cmd', ['/c', 'start', '', '/b', wrapperPath(spec)]);
}

/** Write the wrapper; an ONLOGON task runs it, or, when creating one is not allowed, a launcher in the Startup folder. */
async function installTask(tasks: TaskScheduler, spec: ServiceSpec): Promise<void> {
  const text = renderWrapper(spec);
  ensureLogDirs(spec);
  const wrapper = wrapperPath(spec);
  ensurePrivateDir(dirname(wrapper));
  writeFileAtomic(wrapper, text, 0o644);
  const name = taskName(spec.label);
  const create = await schtasks(tasks, '/Create', '/TN', name, '/TR', `"${wrapper}"`, '/SC', 'ONLOGON', '/RL', 'LIMITED', '/F');
  if (create.exitCode === 0) {
    await runAsTask(tasks, spec, name);
    return;
  }
  if (!isDenied(create)) throw commandError('schtasks', ['/Create', '/TN', name, '...'], create);
  await runFromStartupFolder(tasks, spec, wrapper);
}

/** The task is created: lift schtasks' limits, drop an older Startup launcher, and run it afresh. */
async function runAsTask(tasks: TaskScheduler, spec: ServiceSpec, name: string): Promise<void> {
  // schtasks' defaults would stop the server after 72 h and never start it on battery power.
  await powershell(
    tasks,
    `Set-ScheduledTask -TaskName ${psQuote(name)} -Settings (New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries) | Out-Null`,
  );
  rmSync(startupPath(tasks, spec), { force: true });
  await stopTask(tasks, spec);
  await runChecked(tasks.ctx, 'schtasks', ['/Run', '/TN', name]);
}

/** "Access is denied." to a task: the launcher in the Startup folder, and the wrapper started afresh now. */
async function runFromStartupFolder(tasks: TaskScheduler, spec: ServiceSpec, wrapper: string): Promise<void> {
  mkdirSync(tasks.startupDir, { recursive: true });
  writeFileAtomic(startupPath(tasks, spec), renderStartupLauncher(wrapper), 0o644);
  await killWrapperTree(tasks, spec);
  await startDetached(tasks, spec);
}

async function startTask(tasks: TaskScheduler, spec: ServiceSpec): Promise<void> {
  if (startupMode(tasks, spec)) await startDetached(tasks, spec);
  else await runChecked(tasks.ctx, 'schtasks', ['/Run', '/TN', taskName(spec.label)]);
}

async function stopTask(tasks: TaskScheduler, spec: ServiceSpec): Promise<void> {
  await killWrapperTree(tasks, spec);
  if (!startupMode(tasks, spec)) await schtasks(tasks, '/End', '/TN', taskName(spec.label));
}

async function uninstallTask(tasks: TaskScheduler, spec: ServiceSpec): Promise<void> {
  const name = taskName(spec.label);
  await killWrapperTree(tasks, spec);
  await schtasks(tasks, '/End', '/TN', name);
  const deleted = await schtasks(tasks, '/Delete', '/TN', name, '/F');
  if (deleted.exitCode !== 0 && !isMissing(deleted)) throw commandError('schtasks', ['/Delete', '/TN', name, '/F'], deleted);
  rmSync(startupPath(tasks, spec), { force: true });
  rmSync(wrapperPath(spec), { force: true });
}

/** The task's own status; else the Startup launcher's wrapper, running or not; else not installed. */
async function taskStatus(tasks: TaskScheduler, spec: ServiceSpec): Promise<ServiceStatus> {
  const q = await schtasks(tasks, '/Query', '/TN', taskName(spec.label), '/FO', 'LIST', '/V');
  if (q.exitCode === 0) {
    const fields = parseQuery(q.stdout);
    const status = fields.Status ?? '';
    return {
      installed: true,
      enabled: (fields['Scheduled Task State'] ?? '').toLowerCase() === 'enabled',
      running: status.toLowerCase() === 'running',
      detail: `Status: ${status || 'unknown'}`,
    };
  }
  if (startupMode(tasks, spec)) {
    const r = await powershell(tasks, `${wrapperProcesses(spec)} | ForEach-Object { $_.ProcessId }`);
    const running = r.exitCode === 0 && /^\s*\d+\s*$/m.test(r.stdout);
    return { installed: true, enabled: true, running, detail: `Startup folder: ${startupPath(tasks, spec)}` };
  }
  return { installed: false, enabled: false, running: false, detail: (q.stderr || q.stdout).trim() };
}
