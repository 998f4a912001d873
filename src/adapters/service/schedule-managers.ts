/**
 * Installing and removing the recurring `cleanup` job with each OS service
 * manager. What is written and what is run are listed up front too, for
 * `--dry-run`. Removal works from the recorded file paths alone, so that
 * `cleanup --unschedule` and `uninstall` need nothing but config.json.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../fs-atomic.js';
import type { CleanupScheduleRecord } from '../config-store.js';
import { commandError, serviceName } from './common.js';
import { createLaunchdManager, type LaunchdOptions } from './launchd.js';
import { psEncode, psQuote } from './schtasks.js';
import {
  jobServiceSpec,
  renderCleanupPlist,
  renderCleanupService,
  renderCleanupTimer,
  renderCleanupWrapper,
  schtasksCreateArgs,
  systemdTimerName,
  type CleanupJob,
} from './schedule-render.js';
import { createSystemdManager } from './systemd.js';
import type { ManagerContext, ManagerName, RunResult, ServiceSpec } from './types.js';

export interface PlannedFile {
  path: string;
  text: string;
}

export interface ScheduleManager {
  name: ManagerName;
  /** The files install writes, with their text. */
  files(job: CleanupJob): PlannedFile[];
  /** The commands install runs, for --dry-run. */
  installCommands(job: CleanupJob): string[][];
  /** Write the files and register the job, replacing an older one of ours. */
  install(job: CleanupJob): Promise<void>;
  /** The commands remove runs, for --dry-run. */
  removeCommands(written: string[]): string[][];
  /** Unregister the job and delete the files written for it; a job that is already gone is fine. */
  remove(written: string[]): Promise<void>;
}

/** A file's name without its extension: the unit, label or task name the file was written for. */
const stem = (file: string): string => basename(file, extname(file));

function writeFiles(files: PlannedFile[]): void {
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileAtomic(file.path, file.text, 0o644);
  }
}

async function must(ctx: ManagerContext, cmd: string, args: string[]): Promise<RunResult> {
  const r = await ctx.run(cmd, args);
  if (r.exitCode !== 0) throw commandError(cmd, args, r);
  return r;
}

/** systemd --user: a oneshot service and its timer; the timer is what gets enabled. */
function systemdSchedule(ctx: ManagerContext): ScheduleManager {
  const units = createSystemdManager(ctx);
  const systemctl = (...args: string[]): string[] => ['--user', ...args];
  const timerOf = (files: string[]): string | undefined => files.map((f) => basename(f)).find((f) => f.endsWith('.timer'));

  const files = (job: CleanupJob): PlannedFile[] => {
    const service = units.unitPath(jobServiceSpec(job));
    return [
      { path: service, text: renderCleanupService(job) },
      { path: join(dirname(service), systemdTimerName(job.label)), text: renderCleanupTimer(job) },
    ];
  };

  return {
    name: 'systemd',
    files,
    installCommands: (job) => [
      ['systemctl', ...systemctl('daemon-reload')],
      ['systemctl', ...systemctl('enable', '--now', systemdTimerName(job.label))],
    ],
    /** daemon-reload, then `enable --now`; a timer that was there already is restarted, so that a new OnCalendar= counts. */
    async install(job) {
      const planned = files(job);
      const timer = systemdTimerName(job.label);
      const replacing = existsSync(planned[1]!.path);
      writeFiles(planned);
      await must(ctx, 'systemctl', systemctl('daemon-reload'));
      if (replacing) {
        await must(ctx, 'systemctl', systemctl('enable', timer));
        await must(ctx, 'systemctl', systemctl('restart', timer));
      } else {
        await must(ctx, 'systemctl', systemctl('enable', '--now', timer));
      }
    },
    removeCommands: (written) => {
      const timer = timerOf(written);
      return [...(timer ? [['systemctl', ...systemctl('disable', '--now', timer)]] : []), ['systemctl', ...systemctl('daemon-reload')]];
    },
    /** `disable --now` (a timer systemd does not know is fine when its file is gone too), remove the files, daemon-reload. */
    async remove(written) {
      const timer = timerOf(written);
      if (timer) {
        const args = systemctl('disable', '--now', timer);
        const r = await ctx.run('systemctl', args);
        const known = written.some((f) => existsSync(f));
        if (r.exitCode !== 0 && known && !/not (be )?found|does not exist|not loaded/i.test(r.stderr))
          throw commandError('systemctl', args, r);
      }
      for (const file of written) rmSync(file, { force: true });
      await must(ctx, 'systemctl', systemctl('daemon-reload'));
    },
  };
}

/** launchctl's stop, start and uninstall only use the spec's label (and the plist path it gives). */
function labelOnly(label: string): ServiceSpec {
  return { label, mlflowBin: '', args: [], workingDirectory: '', stdoutPath: '', stderrPath: '', environment: {} };
}

/** launchd: a second LaunchAgent, booted out and in again like the server's. */
function launchdSchedule(ctx: ManagerContext, options: LaunchdOptions = {}): ScheduleManager {
  const agents = createLaunchdManager(ctx, options);
  const domain = `gui/${ctx.uid}`;
  const files = (job: CleanupJob): PlannedFile[] => [{ path: agents.unitPath(jobServiceSpec(job)), text: renderCleanupPlist(job) }];
  return {
    name: 'launchd',
    files,
    installCommands(job) {
      const plist = agents.unitPath(jobServiceSpec(job));
      return [
        ['launchctl', 'bootout', `${domain}/${job.label}`],
        ['launchctl', 'enable', `${domain}/${job.label}`],
        ['launchctl', 'bootstrap', domain, plist],
      ];
    },
    /** Not RunAtLoad: bootstrapping only arms the calendar. */
    async install(job) {
      writeFiles(files(job));
      const spec = labelOnly(job.label);
      await agents.stop(spec);
      await agents.start(spec);
    },
    removeCommands: (written) => written.map((f) => ['launchctl', 'bootout', `${domain}/${stem(f)}`]),
    async remove(written) {
      for (const file of written) await agents.uninstall(labelOnly(stem(file)));
      for (const file of written) rmSync(file, { force: true });
    },
  };
}

const isMissingTask = (r: RunResult): boolean => /cannot find|does not exist/i.test(`${r.stderr}\n${r.stdout}`);

/** Windows Task Scheduler: a wrapper in the data folder, a DAILY/WEEKLY/MONTHLY task that runs it. */
function schtasksSchedule(ctx: ManagerContext): ScheduleManager {
  const wrapperOf = (job: CleanupJob): string => join(job.workingDirectory, `${serviceName(job.label)}.cmd`);
  const files = (job: CleanupJob): PlannedFile[] => [{ path: wrapperOf(job), text: renderCleanupWrapper(job) }];
  const createArgs = (job: CleanupJob): string[] => schtasksCreateArgs(serviceName(job.label), wrapperOf(job), job.every);
  // A task that missed its time (the machine was off) runs when it can; on battery power too.
  const settings = (task: string): string[] => [
    '-NoProfile',
    '-NonInteractive',
    '-EncodedCommand',
    psEncode(
      `Set-ScheduledTask -TaskName ${psQuote(task)} -Settings (New-ScheduledTaskSettingsSet -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -ExecutionTimeLimit (New-TimeSpan -Hours 4)) | Out-Null`,
    ),
  ];
  return {
    name: 'schtasks',
    files,
    installCommands: (job) => [
      ['schtasks', ...createArgs(job)],
      ['powershell', ...settings(serviceName(job.label))],
    ],
    /** The settings are best effort, as for the server's task: the schtasks defaults still run the job. */
    async install(job) {
      writeFiles(files(job));
      await must(ctx, 'schtasks', createArgs(job));
      await ctx.run('powershell', settings(serviceName(job.label)));
    },
    removeCommands: (written) => written.map((f) => ['schtasks', '/Delete', '/TN', stem(f), '/F']),
    async remove(written) {
      for (const file of written) {
        const args = ['/Delete', '/TN', stem(file), '/F'];
        const r = await ctx.run('schtasks', args);
        if (r.exitCode !== 0 && !isMissingTask(r)) throw commandError('schtasks', args, r);
        rmSync(file, { force: true });
      }
    },
  };
}

export function createScheduleManager(name: ManagerName, ctx: ManagerContext, options: { launchd?: LaunchdOptions } = {}): ScheduleManager {
  switch (name) {
    case 'systemd':
      return systemdSchedule(ctx);
    case 'launchd':
      return launchdSchedule(ctx, options.launchd);
    case 'schtasks':
      return schtasksSchedule(ctx);
  }
}

/** Take the recorded job out of its manager (`cleanup --unschedule`, `uninstall`). */
export async function removeCleanupSchedule(record: CleanupScheduleRecord, ctx: ManagerContext): Promise<void> {
  await createScheduleManager(record.manager, ctx).remove(record.files);
}

/** Whether every planned file is already written with exactly its text (an unchanged job). */
export function filesMatch(files: PlannedFile[]): boolean {
  return files.every((f) => {
    try {
      return readFileSync(f.path, 'utf8') === f.text;
    } catch {
      return false;
    }
  });
}

/** The job's log beside the server's: a 0700 folder, the file 0600 before the manager first appends to it. */
export function prepareJobLog(file: string): void {
  ensurePrivateDir(dirname(file));
  chmodSync(dirname(file), 0o700);
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** Delete the files an earlier job wrote that the new one does not. */
export function removeStaleFiles(previous: string[], current: string[]): void {
  for (const stale of previous) if (!current.includes(stale)) rmSync(stale, { force: true });
}
