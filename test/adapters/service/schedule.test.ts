/**
 * The recurring cleanup job: the rendered files checked by the real
 * validators (`systemd-analyze verify --user` for the service and timer,
 * xmllint against Apple's DTD plus Python's plistlib for the plist), the
 * other renderers exactly, the job's cleanup arguments, and each manager's
 * call sequence against recording fakes on PATH.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScheduleManager, removeCleanupSchedule } from '../../../src/adapters/service/schedule-managers.js';
import {
  CLEANUP_LABEL,
  crontabLine,
  renderCleanupPlist,
  renderCleanupService,
  renderCleanupTimer,
  renderCleanupWrapper,
  schtasksCreateArgs,
  type CleanupJob,
  type ScheduleEvery,
} from '../../../src/adapters/service/schedule-render.js';
import { scheduledCleanupArgs } from '../../../src/adapters/service/schedule.js';
import { MAX_BATCH_SIZE } from '../../../src/cleanup/run-cleanup.js';
import { CliError } from '../../../src/errors.js';
import { callsFile, fakeContext, makeFakeBin, readCalls } from '../../helpers/fake-bin.js';
import { validatePlist as validatePlistWith } from '../../helpers/plist.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SERVICE = 'claude-mlflow-cleanup.service';
const TIMER = 'claude-mlflow-cleanup.timer';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('claude-mlflow-schedule-');
});
afterEach(async () => {
  await tmp.cleanup();
});

function job(root: string, every: ScheduleEvery = 'weekly'): CleanupJob {
  const data = path.join(root, 'data');
  return {
    label: CLEANUP_LABEL,
    every,
    node: path.join(root, 'node', 'bin', 'node'),
    args: [path.join(root, 'pkg', 'dist', 'cli.js'), 'cleanup', '--older-than', '30d', '--yes', '--project', path.join(root, 'project')],
    workingDirectory: data,
    logPath: path.join(data, 'logs', 'cleanup.log'),
    environment: { CLAUDE_MLFLOW_HOME: data },
  };
}

/** Paths with spaces, `%` (a valid specifier: %h), `$` and, outside the executable, double quotes. */
function awkwardJob(root: string): CleanupJob {
  const data = path.join(root, 'data dir 100%h $HOME "q"');
  return {
    ...job(root),
    node: path.join(root, 'node 100%h $HOME', 'bin', 'node'),
    args: [path.join(root, 'pkg "x" 50%', 'cli.js'), 'cleanup', '--older-than', '30d', '--yes', '--project', path.join(root, 'my $project')],
    workingDirectory: data,
    logPath: path.join(data, 'logs', 'cleanup 100%.log'),
    environment: { CLAUDE_MLFLOW_HOME: data },
  };
}

// ---------------------------------------------------------------- validators

/** `systemd-analyze verify --user` on the given files; a private runtime dir and HOME so it needs no session. */
function verify(files: string[]): { status: number | null; stderr: string } {
  const runtime = path.join(tmp.path, 'runtime');
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const home = path.join(tmp.path, 'verify-home');
  mkdirSync(home, { recursive: true });
  const r = spawnSync('systemd-analyze', ['verify', '--user', ...files], {
    env: { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_COLOR: '0' },
    encoding: 'utf8',
  });
  return { status: r.status, stderr: `${r.stderr}${r.error ? String(r.error) : ''}` };
}

/** Lines of verify's stderr about our units (not about the missing session or unrelated units). */
const linesAbout = (stderr: string, files: string[]): string[] =>
  stderr.split('\n').filter((l) => files.some((f) => l.includes(f) || l.includes(path.basename(f))));

/** The job's files in one folder, the executable made real at its path (verify checks that it exists). */
function writeUnits(j: CleanupJob, service = renderCleanupService(j), timer = renderCleanupTimer(j)): string[] {
  mkdirSync(path.dirname(j.node), { recursive: true });
  writeFileSync(j.node, '#!/bin/sh\nexit 0\n');
  chmodSync(j.node, 0o755);
  mkdirSync(path.dirname(j.logPath), { recursive: true });
  const dir = mkdtempSync(path.join(tmp.path, 'units-'));
  const files = [path.join(dir, SERVICE), path.join(dir, TIMER)];
  writeFileSync(files[0]!, service);
  writeFileSync(files[1]!, timer);
  return files;
}

const validatePlist = (file: string) => validatePlistWith(file, tmp.path);

function plistlibLoad(file: string): Record<string, unknown> {
  const r = spawnSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`plistlib could not read ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

// ---------------------------------------------------------------- systemd

describe('systemd service and timer', () => {
  it('renders a oneshot service with an explicit PATH and CLAUDE_MLFLOW_HOME, appending to the log', () => {
    const j = job('/srv/x y');
    expect(renderCleanupService(j)).toBe(
      [
        '# Generated by claude-mlflow (dev.claude-mlflow.cleanup): `claude-mlflow cleanup --schedule` rewrites this file, `claude-mlflow cleanup --unschedule` removes it.',
        '[Unit]',
        'Description=Delete old Claude Code traces from MLflow (claude-mlflow cleanup, weekly)',
        '',
        '[Service]',
        'Type=oneshot',
        'ExecStart="/srv/x y/node/bin/node" "/srv/x y/pkg/dist/cli.js" "cleanup" "--older-than" "30d" "--yes" "--project" "/srv/x y/project"',
        'WorkingDirectory=/srv/x y/data',
        'Environment="PATH=/srv/x y/node/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"',
        'Environment="CLAUDE_MLFLOW_HOME=/srv/x y/data"',
        'UMask=0077',
        'StandardOutput=append:/srv/x y/data/logs/cleanup.log',
        'StandardError=append:/srv/x y/data/logs/cleanup.log',
        '',
      ].join('\n'),
    );
  });

  it.each(['daily', 'weekly', 'monthly'] as const)('the %s timer: OnCalendar, Persistent, a small random delay, enabled under timers.target', (every) => {
    const text = renderCleanupTimer({ label: CLEANUP_LABEL, every });
    expect(text).toContain(`\n[Timer]\nOnCalendar=${every}\nPersistent=true\nRandomizedDelaySec=15min\n`);
    expect(text).toContain('\n[Install]\nWantedBy=timers.target\n');
    expect(text).not.toMatch(/\{\{|\}\}/);
  });

  it('systemd-analyze verify --user accepts both units, for paths with spaces, %, $ and quotes', () => {
    for (const every of ['daily', 'weekly', 'monthly'] as const) {
      const j = { ...awkwardJob(tmp.path), every };
      const files = writeUnits(j);
      const result = verify(files);
      expect(linesAbout(result.stderr, files), result.stderr).toEqual([]);
      expect(result.status, result.stderr).toBe(0);
    }
  });

  it('verify notices a bad calendar, an unescaped % and a broken quote (so the check above can fail)', () => {
    const j = awkwardJob(tmp.path);
    const service = renderCleanupService(j);
    const timer = renderCleanupTimer(j);
    const variants: Array<[string, string, string]> = [
      ['calendar', service, timer.replace('OnCalendar=weekly', 'OnCalendar=fortnightly')],
      ['percent', service.replace('node 100%%h', 'node 100%h'), timer],
      ['quote', service.replace('\\"x', '"x'), timer],
    ];
    for (const [name, s, t] of variants) {
      expect(s + t, name).not.toBe(service + timer);
      const files = writeUnits(j, s, t);
      const result = verify(files);
      expect(result.status !== 0 || linesAbout(result.stderr, files).length > 0, `${name}: ${result.stderr}`).toBe(true);
    }
  });

  it('refuses what a unit cannot carry', () => {
    expect(() => renderCleanupService({ ...job('/srv'), args: ['a\nb'] })).toThrow(CliError);
    expect(() => renderCleanupService({ ...job('/srv'), node: 'node' })).toThrow(CliError);
    expect(() => renderCleanupService({ ...job('/srv'), node: '/a "b"/node' })).toThrow(CliError);
  });
});

// ---------------------------------------------------------------- launchd

describe('launchd agent', () => {
  it('validates against the DTD and reads back: the command, the calendar, no RunAtLoad or KeepAlive', () => {
    const j = { ...awkwardJob(tmp.path), args: [...awkwardJob(tmp.path).args, `R&D <"claude's">`] };
    const file = path.join(tmp.path, `${CLEANUP_LABEL}.plist`);
    writeFileSync(file, renderCleanupPlist(j));
    const v = validatePlist(file);
    expect(v.status, v.output).toBe(0);
    expect(plistlibLoad(file)).toEqual({
      Label: CLEANUP_LABEL,
      ProgramArguments: [j.node, ...j.args],
      StartCalendarInterval: { Weekday: 0, Hour: 3, Minute: 0 },
      ProcessType: 'Background',
      Umask: 0o077,
      WorkingDirectory: j.workingDirectory,
      StandardOutPath: j.logPath,
      StandardErrorPath: j.logPath,
      EnvironmentVariables: {
        PATH: `${path.dirname(j.node)}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
        CLAUDE_MLFLOW_HOME: j.workingDirectory,
      },
    });
  });

  it.each([
    ['daily', { Hour: 3, Minute: 0 }],
    ['monthly', { Day: 1, Hour: 3, Minute: 0 }],
  ] as const)('%s: StartCalendarInterval %j', (every, interval) => {
    const file = path.join(tmp.path, `${every}.plist`);
    writeFileSync(file, renderCleanupPlist(job(tmp.path, every)));
    expect(validatePlist(file).status).toBe(0);
    expect(plistlibLoad(file).StartCalendarInterval).toEqual(interval);
  });

  it('the validator rejects an unescaped & (so the check above can fail)', () => {
    const file = path.join(tmp.path, 'raw.plist');
    writeFileSync(file, renderCleanupPlist({ ...job(tmp.path), args: ['a&b'] }).replace('a&amp;b', 'a&b'));
    expect(validatePlist(file).status).not.toBe(0);
  });
});

// ---------------------------------------------------------------- Task Scheduler and cron

describe('Task Scheduler wrapper and crontab line', () => {
  const windowsJob: CleanupJob = {
    label: CLEANUP_LABEL,
    every: 'weekly',
    node: 'C:\\Program Files\\nodejs\\node.exe',
    args: ['C:\\Users\\A B\\AppData\\Roaming\\npm\\node_modules\\claude-mlflow\\dist\\cli.js', 'cleanup', '--older-than', '30d', '--yes', '--project', 'C:\\src\\R&D 100%'],
    workingDirectory: 'C:\\Users\\A B\\AppData\\Local\\claude-mlflow',
    logPath: 'C:\\Users\\A B\\AppData\\Local\\claude-mlflow\\logs\\cleanup.log',
    environment: { CLAUDE_MLFLOW_HOME: 'C:\\Users\\A B\\AppData\\Local\\claude-mlflow' },
  };

  it('renders the .cmd wrapper (CRLF, node first on the PATH, output appended to the log)', () => {
    expect(renderCleanupWrapper(windowsJob)).toBe(
      [
        '@echo off',
        'rem Generated by claude-mlflow (dev.claude-mlflow.cleanup): `claude-mlflow cleanup --schedule` rewrites this file, `claude-mlflow cleanup --unschedule` removes it.',
        'setlocal EnableExtensions DisableDelayedExpansion',
        'set "PATH=C:\\Program Files\\nodejs;%PATH%"',
        'set "CLAUDE_MLFLOW_HOME=C:\\Users\\A B\\AppData\\Local\\claude-mlflow"',
        'cd /d "C:\\Users\\A B\\AppData\\Local\\claude-mlflow"',
        '"C:\\Program Files\\nodejs\\node.exe" "C:\\Users\\A B\\AppData\\Roaming\\npm\\node_modules\\claude-mlflow\\dist\\cli.js" cleanup --older-than 30d --yes --project "C:\\src\\R&D 100%%" >> "C:\\Users\\A B\\AppData\\Local\\claude-mlflow\\logs\\cleanup.log" 2>&1',
        '',
      ].join('\r\n'),
    );
  });

  it('schtasks /Create: DAILY, WEEKLY on Sunday, MONTHLY on the 1st, at 03:00, replacing (/F)', () => {
    const w = 'C:\\x\\claude-mlflow-cleanup.cmd';
    expect(schtasksCreateArgs('claude-mlflow-cleanup', w, 'daily')).toEqual(['/Create', '/TN', 'claude-mlflow-cleanup', '/TR', `"${w}"`, '/SC', 'DAILY', '/ST', '03:00', '/RL', 'LIMITED', '/F']);
    expect(schtasksCreateArgs('t', w, 'weekly')).toEqual(['/Create', '/TN', 't', '/TR', `"${w}"`, '/SC', 'WEEKLY', '/D', 'SUN', '/ST', '03:00', '/RL', 'LIMITED', '/F']);
    expect(schtasksCreateArgs('t', w, 'monthly')).toEqual(['/Create', '/TN', 't', '/TR', `"${w}"`, '/SC', 'MONTHLY', '/D', '1', '/ST', '03:00', '/RL', 'LIMITED', '/F']);
  });

  it('the crontab line: explicit environment, quoted words, % escaped for cron', () => {
    const j = { ...job('/home/me'), args: ['/opt/claude mlflow/cli.js', 'cleanup', '--older-than', '30d', '--yes', '--project', '/home/me/100% done'] };
    expect(crontabLine(j)).toBe(
      "0 3 * * 0 PATH=/home/me/node/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin CLAUDE_MLFLOW_HOME=/home/me/data /home/me/node/bin/node '/opt/claude mlflow/cli.js' cleanup --older-than 30d --yes --project '/home/me/100\\% done' >> /home/me/data/logs/cleanup.log 2>&1",
    );
    expect(crontabLine(job('/h', 'daily'))).toMatch(/^0 3 \* \* \* /);
    expect(crontabLine(job('/h', 'monthly'))).toMatch(/^0 3 1 \* \* /);
  });

  it('the crontab line runs in sh as written (cron unescapes \\% first)', () => {
    const bin = path.join(tmp.path, 'node', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'node'), '#!/bin/sh\nprintf "%s|" "$CLAUDE_MLFLOW_HOME" "$@"\n');
    chmodSync(path.join(bin, 'node'), 0o755);
    const j = { ...job(tmp.path), args: ['a b', "it's 100%"] };
    mkdirSync(path.dirname(j.logPath), { recursive: true });
    const command = crontabLine(j).replace(/^(\S+ ){5}/, '').replace(/\\%/g, '%');
    expect(spawnSync('sh', ['-c', command], { env: {} }).status).toBe(0);
    expect(readFileSync(j.logPath, 'utf8')).toBe(`${j.workingDirectory}|a b|it's 100%|`);
  });
});

// ---------------------------------------------------------------- the job's arguments

describe('scheduledCleanupArgs', () => {
  const project = '/home/me/project';

  it('always --older-than, --yes and --project; the options that change the cleanup pass through', () => {
    expect(scheduledCleanupArgs({ olderThan: '30d' }, project)).toEqual(['--older-than', '30d', '--yes', '--project', project]);
    expect(
      scheduledCleanupArgs({ olderThan: ' 2w ', experiment: ['a', ' b '], keepLast: '010', batchSize: '500', backup: false, vacuum: false }, project),
    ).toEqual(['--older-than', '2w', '--yes', '--experiment', 'a', '--experiment', 'b', '--keep-last', '10', '--batch-size', '500', '--no-backup', '--no-vacuum', '--project', project]);
    expect(scheduledCleanupArgs({ olderThan: '12h', allExperiments: true }, project)).toEqual(['--older-than', '12h', '--yes', '--all-experiments', '--project', project]);
  });

  it.each([
    [{ before: '2026-01-01', olderThan: '30d' }, /fixed --before date/],
    [{}, /--schedule needs --older-than/],
    [{ olderThan: '30' }, /has no unit/],
    [{ olderThan: '0d' }, /is zero/],
    [{ olderThan: '30d', keepLast: 'many' }, /--keep-last needs a whole number/],
    [{ olderThan: '30d', batchSize: String(MAX_BATCH_SIZE + 1) }, /--batch-size needs a whole number from 1 to 10,000/],
    [{ olderThan: '30d', experiment: ['a'], allExperiments: true }, /not both/],
    [{ olderThan: '30d', experiment: [' '] }, /--experiment needs a name/],
  ])('%j is refused with exit 2', (options, message) => {
    let error: unknown;
    try {
      scheduledCleanupArgs(options, project);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(message);
  });
});

// ---------------------------------------------------------------- managers against recording fakes

function fakes(bin: string): void {
  makeFakeBin(bin, 'systemctl', '[ -n "$FAIL" ] && [ "$2" = "$FAIL" ] && { echo "Failed to $2 unit: Access denied" >&2; exit 1; }; exit 0');
  // launchctl: $STATE/loaded while bootstrapped; print answers 113 once it is booted out.
  makeFakeBin(
    bin,
    'launchctl',
    `case "$1" in
  bootout) [ -e "$STATE/loaded" ] || { echo "Boot-out failed: 3: No such process" >&2; exit 3; }; rm -f "$STATE/loaded" ;;
  print) [ -e "$STATE/loaded" ] || { echo "Could not find service" >&2; exit 113; } ;;
  bootstrap) [ -e "$3" ] || exit 2; touch "$STATE/loaded" ;;
esac
exit 0`,
  );
  makeFakeBin(
    bin,
    'schtasks',
    `case "$1" in
  /Create) touch "$STATE/task" ;;
  /Delete) [ -e "$STATE/task" ] || { echo "ERROR: The system cannot find the file specified." >&2; exit 1; }; rm -f "$STATE/task" ;;
esac
exit 0`,
  );
  makeFakeBin(bin, 'powershell', 'exit 0');
}

function setup(env: NodeJS.ProcessEnv = {}) {
  const bin = path.join(tmp.path, 'bin');
  const home = path.join(tmp.path, 'home');
  const state = path.join(tmp.path, 'state');
  mkdirSync(home, { recursive: true });
  mkdirSync(state, { recursive: true });
  fakes(bin);
  const ctx = fakeContext({ binDir: bin, home, uid: 501, env: { STATE: state, ...env } });
  return { ctx, home, state, calls: () => readCalls(callsFile(bin)) };
}

describe('schedule managers against recording fakes', () => {
  it('systemd: writes service and timer, daemon-reload, enable --now the timer; a replaced timer is restarted', async () => {
    const { ctx, home, calls } = setup();
    const manager = createScheduleManager('systemd', ctx);
    const unitDir = path.join(home, '.config', 'systemd', 'user');
    const j = job(tmp.path);
    expect(manager.files(j).map((f) => f.path)).toEqual([path.join(unitDir, SERVICE), path.join(unitDir, TIMER)]);
    expect(manager.installCommands(j)).toEqual([
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', '--now', TIMER],
    ]);
    await manager.install(j);
    expect(readFileSync(path.join(unitDir, SERVICE), 'utf8')).toBe(renderCleanupService(j));
    expect(readFileSync(path.join(unitDir, TIMER), 'utf8')).toBe(renderCleanupTimer(j));
    expect(statSync(path.join(unitDir, TIMER)).mode & 0o022).toBe(0);
    await manager.install(job(tmp.path, 'daily'));
    expect(readFileSync(path.join(unitDir, TIMER), 'utf8')).toContain('OnCalendar=daily');
    expect(calls()).toEqual([
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', '--now', TIMER],
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', TIMER],
      ['systemctl', '--user', 'restart', TIMER],
    ]);
  });

  it('systemd: remove = disable --now the timer, delete both files, daemon-reload (also from the record)', async () => {
    const { ctx, calls } = setup();
    const manager = createScheduleManager('systemd', ctx);
    const j = job(tmp.path);
    const files = manager.files(j).map((f) => f.path);
    await manager.install(j);
    const before = calls().length;
    expect(manager.removeCommands(files)).toEqual([
      ['systemctl', '--user', 'disable', '--now', TIMER],
      ['systemctl', '--user', 'daemon-reload'],
    ]);
    await removeCleanupSchedule({ manager: 'systemd', every: 'weekly', command: [j.node, ...j.args], files }, ctx);
    expect(calls().slice(before)).toEqual(manager.removeCommands(files));
    expect(files.filter((f) => existsSync(f))).toEqual([]);
  });

  it('systemd: a failing systemctl fails install and remove with its message', async () => {
    const j = job(tmp.path);
    await expect(createScheduleManager('systemd', setup({ FAIL: 'enable' }).ctx).install(j)).rejects.toThrow(/enable --now claude-mlflow-cleanup\.timer.*Access denied/);
    await expect(createScheduleManager('systemd', setup({ FAIL: 'disable' }).ctx).remove(createScheduleManager('systemd', setup().ctx).files(j).map((f) => f.path))).rejects.toThrow(/disable --now.*Access denied/);
  });

  it('launchd: writes the plist, bootout (polled), enable, bootstrap; remove boots it out and deletes it', async () => {
    const { ctx, home, state, calls } = setup();
    const manager = createScheduleManager('launchd', ctx, { launchd: { pollIntervalMs: 10 } });
    const j = job(tmp.path);
    const plist = path.join(home, 'Library', 'LaunchAgents', `${CLEANUP_LABEL}.plist`);
    const target = `gui/501/${CLEANUP_LABEL}`;
    expect(manager.files(j).map((f) => f.path)).toEqual([plist]);
    await manager.install(j);
    expect(readFileSync(plist, 'utf8')).toBe(renderCleanupPlist(j));
    expect(existsSync(path.join(state, 'loaded'))).toBe(true);
    const installed = calls().map((c) => c.slice(1).join(' '));
    expect(installed).toEqual([`bootout ${target}`, `print ${target}`, `print ${target}`, `enable ${target}`, `bootstrap gui/501 ${plist}`]);
    expect(manager.installCommands(j).map((c) => c.slice(1).join(' '))).toEqual([`bootout ${target}`, `enable ${target}`, `bootstrap gui/501 ${plist}`]);

    await manager.remove([plist]);
    expect(calls().slice(installed.length).map((c) => c.slice(1).join(' '))).toEqual([`bootout ${target}`, `print ${target}`]);
    expect(existsSync(plist)).toBe(false);
    expect(existsSync(path.join(state, 'loaded'))).toBe(false);
  });

  it('schtasks: the wrapper in the data folder, /Create WEEKLY, task settings; remove = /Delete /F and a missing task is fine', async () => {
    const { ctx, calls } = setup();
    const manager = createScheduleManager('schtasks', ctx);
    const j = job(tmp.path);
    const wrapper = path.join(j.workingDirectory, 'claude-mlflow-cleanup.cmd');
    expect(manager.files(j).map((f) => f.path)).toEqual([wrapper]);
    await manager.install(j);
    expect(readFileSync(wrapper, 'utf8')).toBe(renderCleanupWrapper(j));
    const c = calls();
    expect(c[0]).toEqual(['schtasks', ...schtasksCreateArgs('claude-mlflow-cleanup', wrapper, 'weekly')]);
    expect(c[1]?.slice(0, 4)).toEqual(['powershell', '-NoProfile', '-NonInteractive', '-EncodedCommand']);
    const script = Buffer.from(c[1]?.[4] ?? '', 'base64').toString('utf16le');
    expect(script).toContain("Set-ScheduledTask -TaskName 'claude-mlflow-cleanup'");
    expect(script).toContain('-StartWhenAvailable -AllowStartIfOnBatteries');

    await manager.remove([wrapper]);
    await manager.remove([wrapper]);
    expect(calls().slice(2)).toEqual([
      ['schtasks', '/Delete', '/TN', 'claude-mlflow-cleanup', '/F'],
      ['schtasks', '/Delete', '/TN', 'claude-mlflow-cleanup', '/F'],
    ]);
    expect(existsSync(wrapper)).toBe(false);
  });
});
