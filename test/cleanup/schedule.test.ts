/**
 * `claude-mlflow cleanup --schedule` / `--unschedule` through the built CLI
 * (dist/cli.js: `npm run build` first), with HOME and the data folder in temp
 * dirs and recording fakes of systemctl, launchctl and schtasks first on PATH.
 * The generated units go through the real `systemd-analyze verify` (skipped
 * with the reason when it is missing outside CI), the plist through libxml2
 * against Apple's DTD.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { callsFile, fakePath, makeFakeBin, readCalls } from '../helpers/fake-bin.js';
import { validatePlist } from '../helpers/plist.js';
import { gateOn, SYSTEMD_ANALYZE } from '../helpers/system-tools.js';
import { verifyUserUnits } from '../helpers/systemd-verify.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { distCli } from '../helpers/venv.js';

const TIMER = 'claude-mlflow-cleanup.timer';
const SERVICE = 'claude-mlflow-cleanup.service';
const LABEL = 'dev.claude-mlflow.cleanup';

let tmp: TempDir;
let home: string;
let data: string;
let project: string;
let bin: string;
let state: string;

beforeEach(async () => {
  tmp = await makeTempDir('claude-mlflow-schedule-cli-');
  [home, data, project, bin, state] = ['home', 'data', 'project', 'bin', 'state'].map((d) => path.join(tmp.path, d)) as [
    string,
    string,
    string,
    string,
    string,
  ];
  for (const dir of [home, data, path.join(project, '.claude'), state]) mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(project, '.claude', 'settings.json'), JSON.stringify({ env: { MLFLOW_EXPERIMENT_NAME: 'my-project' } }));
  // systemctl: a user manager answers; launchctl: $STATE/loaded while bootstrapped; schtasks: $STATE/task while created.
  makeFakeBin(bin, 'systemctl', 'exit 0');
  makeFakeBin(
    bin,
    'launchctl',
    `case "$1" in
  bootout) [ -e "$STATE/loaded" ] || exit 3; rm -f "$STATE/loaded" ;;
  print) [ -e "$STATE/loaded" ] || { echo "Could not find service" >&2; exit 113; } ;;
  bootstrap) touch "$STATE/loaded" ;;
esac
exit 0`,
  );
  makeFakeBin(
    bin,
    'schtasks',
    'case "$1" in /Create) touch "$STATE/task";; /Delete) rm "$STATE/task" 2>/dev/null || { echo "ERROR: The system cannot find the file specified." >&2; exit 1; };; esac; exit 0',
  );
  makeFakeBin(bin, 'powershell', 'exit 0');
});
afterEach(async () => {
  await tmp.cleanup();
});

const cli = (args: string[]) => runCli(['cleanup', ...args], { home, data, cwd: project, env: { PATH: fakePath(bin), STATE: state } });
const calls = (): string[] => readCalls(callsFile(bin)).map((c) => c.join(' '));
const config = (): Record<string, unknown> => JSON.parse(readFileSync(path.join(data, 'config.json'), 'utf8')) as Record<string, unknown>;
const recordServer = (manager: string): void =>
  writeFileSync(
    path.join(data, 'config.json'),
    JSON.stringify({
      server: { manager, mlflowBin: '/opt/mlflow/bin/mlflow', host: '127.0.0.1', port: 5000, backendStoreUri: 'sqlite:////x/mlflow.db' },
    }),
  );
const unitDir = (): string => path.join(home, '.config', 'systemd', 'user');
const jobCommand = (olderThan = '30d'): string[] => [
  process.execPath,
  distCli,
  'cleanup',
  '--older-than',
  olderThan,
  '--yes',
  '--project',
  project,
];

const systemdAnalyze = gateOn(SYSTEMD_ANALYZE);

describe('cleanup --schedule with systemd --user (detected: no server recorded)', () => {
  it('writes a oneshot service and a timer, enables the timer, records the job', async () => {
    const r = await cli(['--schedule', 'weekly', '--older-than', '30d']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Scheduled: .* weekly, with a systemd --user timer/);
    expect(calls()).toEqual([
      'systemctl --user show-environment',
      'systemctl --user daemon-reload',
      `systemctl --user enable --now ${TIMER}`,
    ]);

    const files = [path.join(unitDir(), SERVICE), path.join(unitDir(), TIMER)];
    const service = readFileSync(files[0]!, 'utf8');
    expect(service).toContain(
      `\nExecStart=${jobCommand()
        .map((a) => `"${a}"`)
        .join(' ')}\n`,
    );
    expect(service).toContain('\nType=oneshot\n');
    expect(service).toContain(`\nEnvironment="CLAUDE_MLFLOW_HOME=${data}"\n`);
    expect(service).toContain(`\nEnvironment="PATH=${path.dirname(process.execPath)}:`);
    expect(service).toContain(`\nStandardOutput=append:${path.join(data, 'logs', 'cleanup.log')}\n`);
    expect(readFileSync(files[1]!, 'utf8')).toContain('\nOnCalendar=weekly\nPersistent=true\nRandomizedDelaySec=15min\n');

    const log = path.join(data, 'logs', 'cleanup.log');
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(log)).mode & 0o777).toBe(0o700);
    expect(config().cleanupSchedule).toEqual({ manager: 'systemd', every: 'weekly', command: jobCommand(), files });
  });

  it.skipIf(systemdAnalyze.skip)(systemdAnalyze.title('systemd-analyze verify --user accepts the service and timer it wrote'), async () => {
    const r = await cli(['--schedule', 'weekly', '--older-than', '30d']);
    expect(r.exitCode, r.stderr).toBe(0);
    const verified = verifyUserUnits([path.join(unitDir(), SERVICE), path.join(unitDir(), TIMER)], tmp.path);
    expect(verified.status, verified.stderr).toBe(0);
  });

  it('the same schedule again changes nothing; other options replace the job (timer restarted)', async () => {
    expect((await cli(['--schedule', 'weekly', '--older-than', '30d'])).exitCode).toBe(0);
    const before = calls().length;
    const again = await cli(['--schedule', 'weekly', '--older-than', '30d']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Already scheduled: .*Nothing changed\./);
    expect(calls().slice(before)).toEqual(['systemctl --user show-environment']);

    const other = await cli(['--schedule', 'monthly', '--older-than', '2w', '--all-experiments', '--keep-last', '100']);
    expect(other.exitCode, other.stderr).toBe(0);
    expect(other.stdout).toMatch(/^Rescheduled: /);
    expect(calls().slice(before + 1)).toEqual([
      'systemctl --user show-environment',
      'systemctl --user daemon-reload',
      `systemctl --user enable ${TIMER}`,
      `systemctl --user restart ${TIMER}`,
    ]);
    expect(readFileSync(path.join(unitDir(), TIMER), 'utf8')).toContain('\nOnCalendar=monthly\n');
    expect(readFileSync(path.join(unitDir(), SERVICE), 'utf8')).toContain(
      '"--older-than" "2w" "--yes" "--all-experiments" "--keep-last" "100" "--project"',
    );
  });

  it('--unschedule: disable --now the timer, remove both files, daemon-reload, forget the record; again: nothing to do', async () => {
    expect((await cli(['--schedule', 'daily', '--older-than', '30d'])).exitCode).toBe(0);
    const before = calls().length;
    const r = await cli(['--unschedule']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('Removed the daily cleanup job (a systemd --user timer).');
    expect(calls().slice(before)).toEqual([`systemctl --user disable --now ${TIMER}`, 'systemctl --user daemon-reload']);
    expect(readdirSync(unitDir())).toEqual([]);
    expect(config().cleanupSchedule).toBeUndefined();

    const again = await cli(['--unschedule']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/No cleanup job is scheduled/);
    expect(calls()).toHaveLength(before + 2);
  });

  it('--dry-run prints the files and the commands, and writes nothing', async () => {
    const r = await cli(['--schedule', 'weekly', '--older-than', '30d', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Would write ${path.join(unitDir(), SERVICE)}:\n`);
    expect(r.stdout).toContain(`Would write ${path.join(unitDir(), TIMER)}:\n`);
    expect(r.stdout).toContain('    OnCalendar=weekly\n');
    expect(r.stdout).toContain('Would run: systemctl --user daemon-reload\n');
    expect(r.stdout).toContain(`Would run: systemctl --user enable --now ${TIMER}\n`);
    expect(existsSync(path.join(home, '.config'))).toBe(false);
    expect(readdirSync(data)).toEqual([]);
    expect(calls()).toEqual(['systemctl --user show-environment']);

    expect((await cli(['--schedule', 'weekly', '--older-than', '30d'])).exitCode).toBe(0);
    const unschedule = await cli(['--unschedule', '--dry-run']);
    expect(unschedule.stdout).toContain(`Would run: systemctl --user disable --now ${TIMER}\n`);
    expect(existsSync(path.join(unitDir(), TIMER))).toBe(true);
    expect(config().cleanupSchedule).toBeDefined();
  });

  it('uninstall removes the scheduled job too', async () => {
    expect((await cli(['--schedule', 'weekly', '--older-than', '30d'])).exitCode).toBe(0);
    const before = calls().length;
    const r = await runCli(['uninstall'], { home, data, cwd: project, env: { PATH: fakePath(bin), STATE: state } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('- Remove the weekly cleanup job (systemd)');
    expect(calls().slice(before)).toEqual([`systemctl --user disable --now ${TIMER}`, 'systemctl --user daemon-reload']);
    expect(readdirSync(unitDir())).toEqual([]);
    expect(config().cleanupSchedule).toBeUndefined();
  });
});

describe('bad input: exit 2, nothing written, nothing run', () => {
  it.each([
    [['--schedule', 'hourly', '--older-than', '30d'], /--schedule "hourly" is not a schedule: use daily, weekly or monthly/],
    [['--schedule', 'weekly'], /--schedule needs --older-than/],
    [['--schedule', 'weekly', '--before', '2026-01-01'], /fixed --before date/],
    [['--schedule', 'weekly', '--older-than', '30'], /has no unit/],
    [['--schedule', 'weekly', '--older-than', '30d', '--keep-last', 'x'], /--keep-last needs a whole number/],
    [['--schedule', 'weekly', '--older-than', '30d', '--unschedule'], /either --schedule or --unschedule/],
    [['--unschedule', '--older-than', '30d'], /takes no cleanup options \(got --older-than\)/],
    [['--schedule', 'weekly', '--older-than', '30d', '--json'], /--json is for a cleanup run/],
    [['--schedule', 'weekly', '--older-than', '30d', '--project', '..'], /no experiment to clean: .* Nothing was scheduled/],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(calls()).toEqual([]);
    expect(readdirSync(data)).toEqual([]);
    expect(readdirSync(home)).toEqual([]);
  });
});

describe('the server’s recorded manager is used', () => {
  it('launchd: a LaunchAgent with StartCalendarInterval that follows Apple’s DTD, bootstrapped; --unschedule boots it out', async () => {
    recordServer('launchd');
    const r = await cli(['--schedule', 'weekly', '--older-than', '30d']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plist = path.join(home, 'Library', 'LaunchAgents', `${LABEL}.plist`);
    const text = readFileSync(plist, 'utf8');
    const validation = validatePlist(plist);
    expect(validation.valid, validation.errors).toBe(true);
    expect(text).toContain(
      `<array>\n${jobCommand()
        .map((a) => `\t\t<string>${a}</string>`)
        .join('\n')}\n\t</array>`,
    );
    expect(text).toContain(
      '<key>StartCalendarInterval</key>\n\t<dict>\n\t\t<key>Weekday</key>\n\t\t<integer>0</integer>\n\t\t<key>Hour</key>\n\t\t<integer>3</integer>',
    );
    expect(text).not.toMatch(/RunAtLoad|KeepAlive/);
    const target = `gui/${process.getuid!()}/${LABEL}`;
    expect(calls()).toEqual([
      `launchctl bootout ${target}`,
      `launchctl print ${target}`, // gone (the bootout is polled)
      `launchctl print ${target}`, // not loaded: bootstrap, not kickstart
      `launchctl enable ${target}`,
      `launchctl bootstrap gui/${process.getuid!()} ${plist}`,
    ]);
    expect(config()).toMatchObject({ server: { manager: 'launchd' }, cleanupSchedule: { manager: 'launchd', files: [plist] } });

    const before = calls().length;
    const removed = await cli(['--unschedule']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(calls().slice(before)).toEqual([`launchctl bootout ${target}`, `launchctl print ${target}`]);
    expect(existsSync(plist)).toBe(false);
  });

  it('schtasks: a .cmd wrapper in the data folder and a WEEKLY task; --unschedule deletes both', async () => {
    recordServer('schtasks');
    const r = await cli(['--schedule', 'weekly', '--older-than', '30d', '--experiment', 'a b']);
    expect(r.exitCode, r.stderr).toBe(0);
    const wrapper = path.join(data, 'claude-mlflow-cleanup.cmd');
    expect(readFileSync(wrapper, 'utf8')).toContain(
      `--older-than 30d --yes --experiment "a b" --project ${project} >> "${path.join(data, 'logs', 'cleanup.log')}" 2>&1\r\n`,
    );
    expect(calls()[0]).toBe(`schtasks /Create /TN claude-mlflow-cleanup /TR "${wrapper}" /SC WEEKLY /D SUN /ST 03:00 /RL LIMITED /F`);
    expect(calls()[1]).toMatch(/^powershell -NoProfile -NonInteractive -EncodedCommand /);

    const removed = await cli(['--unschedule']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(calls().slice(2)).toEqual(['schtasks /Delete /TN claude-mlflow-cleanup /F']);
    expect(existsSync(wrapper)).toBe(false);
  });

  it('background: refused (exit 1) with the crontab line to add, and nothing written', async () => {
    recordServer('background');
    const before = readFileSync(path.join(data, 'config.json'), 'utf8');
    const r = await cli(['--schedule', 'weekly', '--older-than', '30d']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('the local server runs as a background process');
    const nodeDir = path.dirname(process.execPath);
    const jobPath = [nodeDir, ...['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'].filter((d) => d !== nodeDir)].join(':');
    expect(r.stderr.split('\n').at(-1)).toBe(
      `0 3 * * 0 PATH=${jobPath} CLAUDE_MLFLOW_HOME=${data} ${jobCommand().join(' ')} >> ${path.join(data, 'logs', 'cleanup.log')} 2>&1`,
    );
    expect(calls()).toEqual([]);
    expect(readdirSync(data)).toEqual(['config.json']);
    expect(readFileSync(path.join(data, 'config.json'), 'utf8')).toBe(before);
  });
});
