/**
 * The recurring `cleanup` job as each OS service manager wants it (pure): a
 * systemd --user service and timer, a launchd agent with
 * StartCalendarInterval, a .cmd wrapper run by a Task Scheduler task, and the
 * crontab line to print where none of them is usable. Quoting and escaping
 * are the server service's own (systemd.ts, launchd.ts, schtasks.ts).
 *
 * The job runs at 03:00 local time (systemd: at the calendar keyword's time,
 * midnight), weekly on Sunday (systemd: Monday), monthly on the 1st.
 */
import { posix, win32 } from 'node:path';
import { CliError, EXIT } from '../../errors.js';
import { quoteArg } from '../../core/shell-quote.js';
import { assertEnvName, assertPrintable, assertSpec, fillTemplate, loadTemplate, posixEnvironment, serviceName } from './common.js';
import { xmlEscape } from './launchd.js';
import { cmdPath, cmdQuote } from './schtasks.js';
import { systemdPath, systemdQuote, systemdQuoteExecutable } from './systemd.js';
import type { ServiceSpec } from './types.js';

export const SCHEDULE_EVERY = ['daily', 'weekly', 'monthly'] as const;
export type ScheduleEvery = (typeof SCHEDULE_EVERY)[number];

/** Beside the server's 'dev.claude-mlflow.server': unit, timer and task 'claude-mlflow-cleanup'. */
export const CLEANUP_LABEL = 'dev.claude-mlflow.cleanup';

export interface CleanupJob {
  label: string;
  every: ScheduleEvery;
  /** The absolute node executable. */
  node: string;
  /** Its arguments: the absolute cli.js, `cleanup`, then the cleanup options. */
  args: string[];
  /** The data folder. */
  workingDirectory: string;
  /** stdout and stderr are appended here. */
  logPath: string;
  /** CLAUDE_MLFLOW_HOME; each manager makes PATH explicit itself. */
  environment: Record<string, string>;
}

/** The job as a ServiceSpec (node in the executable's place), so that the server service's checks and PATH rule apply. */
export function jobServiceSpec(job: CleanupJob): ServiceSpec {
  return {
    label: job.label,
    mlflowBin: job.node,
    args: job.args,
    workingDirectory: job.workingDirectory,
    stdoutPath: job.logPath,
    stderrPath: job.logPath,
    environment: job.environment,
  };
}

export function isScheduleEvery(value: string): value is ScheduleEvery {
  return (SCHEDULE_EVERY as readonly string[]).includes(value);
}

// ---------------------------------------------------------------- systemd

/** `claude-mlflow-cleanup.timer`; the service has the same name with `.service`. */
export function systemdTimerName(label: string): string {
  return `${serviceName(label)}.timer`;
}

/** Environment= takes a quoted assignment: `\` `"` escaped, `%` doubled, `$` literal. */
function systemdEnvironment(name: string, value: string): string {
  return `Environment="${`${name}=${value}`.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

export function renderCleanupService(job: CleanupJob): string {
  const spec = jobServiceSpec(job);
  assertSpec(spec);
  return fillTemplate(loadTemplate('systemd-cleanup.service'), {
    LABEL: job.label,
    EVERY: job.every,
    EXEC_START: [systemdQuoteExecutable(job.node), ...job.args.map(systemdQuote)].join(' '),
    WORKING_DIRECTORY: systemdPath('workingDirectory', job.workingDirectory),
    ENVIRONMENT: posixEnvironment(spec)
      .map(([k, v]) => systemdEnvironment(k, v))
      .join('\n'),
    LOG_PATH: systemdPath('logPath', job.logPath),
  });
}

export function renderCleanupTimer(job: Pick<CleanupJob, 'label' | 'every'>): string {
  return fillTemplate(loadTemplate('systemd-cleanup.timer'), { LABEL: job.label, EVERY: job.every, ON_CALENDAR: job.every });
}

// ---------------------------------------------------------------- launchd

const CALENDAR: Record<ScheduleEvery, Array<[string, number]>> = {
  daily: [
    ['Hour', 3],
    ['Minute', 0],
  ],
  weekly: [
    ['Weekday', 0],
    ['Hour', 3],
    ['Minute', 0],
  ],
  monthly: [
    ['Day', 1],
    ['Hour', 3],
    ['Minute', 0],
  ],
};

const plistString = (value: string): string => `\t\t<string>${xmlEscape(value)}</string>`;

export function renderCleanupPlist(job: CleanupJob): string {
  const spec = jobServiceSpec(job);
  assertSpec(spec);
  return fillTemplate(loadTemplate('launchd-cleanup.plist'), {
    LABEL: xmlEscape(job.label),
    PROGRAM_ARGUMENTS: [job.node, ...job.args].map(plistString).join('\n'),
    CALENDAR_INTERVAL: CALENDAR[job.every].map(([k, v]) => `\t\t<key>${k}</key>\n\t\t<integer>${v}</integer>`).join('\n'),
    WORKING_DIRECTORY: xmlEscape(job.workingDirectory),
    LOG_PATH: xmlEscape(job.logPath),
    ENVIRONMENT_VARIABLES: posixEnvironment(spec)
      .map(([k, v]) => `\t\t<key>${xmlEscape(k)}</key>\n${plistString(v)}`)
      .join('\n'),
  });
}

// ---------------------------------------------------------------- Task Scheduler

/** `set "NAME=value"`: inside the quotes only `%` is special; a `"` cannot be carried. */
function cmdSet(name: string, value: string): string {
  assertEnvName(name);
  assertPrintable(`environment variable ${name}`, value);
  if (value.includes('"')) throw new CliError(`environment variable ${name} cannot contain a double quote in a .cmd file`, EXIT.failure);
  return `set "${name}=${value.replace(/%/g, '%%')}"`;
}

/** The wrapper (CRLF): node's folder put before the PATH the task inherits from Windows, as the server's wrapper does. */
export function renderCleanupWrapper(job: CleanupJob): string {
  assertSpec(jobServiceSpec(job), win32.isAbsolute);
  const nodeDir = win32.dirname(job.node);
  const environment = [
    `set "PATH=${nodeDir.replace(/%/g, '%%')};%PATH%"`,
    ...Object.entries(job.environment)
      .filter(([k]) => k !== 'PATH')
      .map(([k, v]) => cmdSet(k, v)),
  ];
  return fillTemplate(loadTemplate('schtasks-cleanup.cmd'), {
    LABEL: job.label,
    ENVIRONMENT: environment.join('\n'),
    WORKING_DIRECTORY: cmdPath('workingDirectory', job.workingDirectory),
    COMMAND: [job.node, ...job.args].map(cmdQuote).join(' '),
    LOG_PATH: cmdPath('logPath', job.logPath),
  }).replace(/\r?\n/g, '\r\n');
}

const SCHTASKS_SCHEDULE: Record<ScheduleEvery, string[]> = {
  daily: ['/SC', 'DAILY', '/ST', '03:00'],
  weekly: ['/SC', 'WEEKLY', '/D', 'SUN', '/ST', '03:00'],
  monthly: ['/SC', 'MONTHLY', '/D', '1', '/ST', '03:00'],
};

/** `schtasks /Create` for the task that runs the wrapper; /F replaces an older one. */
export function schtasksCreateArgs(task: string, wrapper: string, every: ScheduleEvery): string[] {
  return ['/Create', '/TN', task, '/TR', `"${wrapper}"`, ...SCHTASKS_SCHEDULE[every], '/RL', 'LIMITED', '/F'];
}

// ---------------------------------------------------------------- cron

const CRON_TIME: Record<ScheduleEvery, string> = {
  daily: '0 3 * * *',
  weekly: '0 3 * * 0',
  monthly: '0 3 1 * *',
};

/**
 * One crontab line for the user to add: explicit environment assignments,
 * the command, its output appended to the log. cron's sh runs it, and cron
 * turns an unescaped `%` into a newline: every `%` is backslash-escaped.
 */
export function crontabLine(job: CleanupJob): string {
  const spec = jobServiceSpec(job);
  assertSpec(spec, posix.isAbsolute);
  const env = posixEnvironment(spec).map(([k, v]) => `${k}=${quoteArg(v, 'linux')}`);
  const command = [...env, ...[job.node, ...job.args].map((a) => quoteArg(a, 'linux')), '>>', quoteArg(job.logPath, 'linux'), '2>&1'].join(
    ' ',
  );
  return `${CRON_TIME[job.every]} ${command.replace(/%/g, '\\%')}`;
}
