/** Each command's options module: commander's flags in, the typed options out; bad input is exit 2. */
import { describe, expect, it } from 'vitest';
import { isScheduleRequest, parseCleanupOptions, parseScheduleOptions } from '../../src/cleanup/options.js';
import { parseDoctorOptions } from '../../src/doctor/options.js';
import { CliError } from '../../src/errors.js';
import { parseFlushOptions, parseHookOptions } from '../../src/hook/options.js';
import { parseInitOptions, parseToggleOptions, parseUninstallOptions } from '../../src/init/options.js';
import { parseMigrateOptions } from '../../src/migrate/options.js';
import { parseLines, parseServerOptions } from '../../src/server/options.js';
import { parseStatusOptions, parseUser } from '../../src/status/options.js';

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return (error as CliError).message;
  }
  throw new Error('expected a usage error');
}

describe('status', () => {
  it('--user: non-empty, and not both quotes', () => {
    expect(parseUser(undefined)).toBeUndefined();
    expect(parseUser("o'brien")).toBe("o'brien");
    expect(usageError(() => parseUser(' '))).toBe('--user needs a user name (as traces record it in mlflow.trace.user)');
    expect(usageError(() => parseUser(`a'b"c`))).toBe(`--user cannot hold both ' and ": MLflow's search filter cannot match it`);
  });

  it('the options: json as a boolean, user only when given', () => {
    expect(parseStatusOptions({ project: 'p' })).toEqual({ json: false });
    expect(parseStatusOptions({ json: true, user: 'alice' })).toEqual({ json: true, user: 'alice' });
  });
});

describe('flush and hook', () => {
  it('--timeout: a positive number of seconds', () => {
    expect(parseFlushOptions({ timeout: '30' })).toEqual({ timeoutSeconds: 30, json: false });
    expect(parseFlushOptions({ timeout: '0.5', json: true })).toEqual({ timeoutSeconds: 0.5, json: true });
    for (const bad of ['0', '-1', 'soon', 'Infinity']) {
      expect(usageError(() => parseFlushOptions({ timeout: bad }))).toBe(`--timeout must be a positive number of seconds, got "${bad}"`);
    }
  });

  it('hook --print-command', () => {
    expect(parseHookOptions({})).toEqual({ printCommand: false });
    expect(parseHookOptions({ printCommand: true })).toEqual({ printCommand: true });
  });
});

describe('server', () => {
  it('--lines: 50 by default; a whole number, 0 or more', () => {
    expect(parseServerOptions({})).toEqual({ json: undefined, follow: undefined, lines: '50' });
    expect(parseLines('0')).toBe(0);
    expect(parseLines('200')).toBe(200);
    expect(usageError(() => parseLines('-1'))).toBe('--lines must be a whole number, got "-1"');
    expect(usageError(() => parseLines('1.5'))).toBe('--lines must be a whole number, got "1.5"');
  });
});

describe('cleanup', () => {
  it('--schedule or --unschedule asks for the recurring job', () => {
    expect(isScheduleRequest({ olderThan: '30d' })).toBe(false);
    expect(isScheduleRequest({ schedule: '' })).toBe(true);
    expect(isScheduleRequest({ unschedule: true })).toBe(true);
  });

  it('a run: --experiment (repeatable) becomes the experiments', () => {
    const options = parseCleanupOptions({
      olderThan: '30d',
      experiment: ['a', 'b'],
      keepLast: '3',
      backup: false,
      project: 'p',
      yes: true,
    });
    expect(options).toMatchObject({ olderThan: '30d', experiments: ['a', 'b'], keepLast: '3', backup: false, yes: true });
    expect(options).not.toHaveProperty('project');
  });

  it('the schedule: its flags without the project (the host context has it)', () => {
    expect(parseScheduleOptions({ schedule: 'weekly', olderThan: '30d', project: 'p', json: true })).toEqual({
      schedule: 'weekly',
      olderThan: '30d',
      json: true,
    });
  });
});

describe('doctor, migrate', () => {
  it('doctor: the switches as booleans, --check as given', () => {
    expect(parseDoctorOptions({ check: 'db-lock', json: true, project: 'p' })).toEqual({
      check: 'db-lock',
      deep: false,
      verbose: false,
      json: true,
      fix: false,
      yes: false,
    });
  });

  it('migrate: --to as given (runMigrate checks it first)', () => {
    expect(parseMigrateOptions({ to: 'postgresql://u@h/db', dryRun: true })).toEqual({
      to: 'postgresql://u@h/db',
      dryRun: true,
      yes: undefined,
    });
  });
});

describe('init, enable/disable, uninstall', () => {
  it('init: --yes as a boolean, the project left to the host context', () => {
    const options = parseInitOptions({ project: 'p', service: true, port: '5001' });
    expect(options).toEqual({ service: true, port: '5001', yes: false });
  });

  it('enable/disable and uninstall', () => {
    expect(parseToggleOptions(false, { scope: 'user', project: 'p' })).toEqual({ enabled: false, scope: 'user' });
    expect(parseUninstallOptions({ purge: true })).toEqual({ purge: true, yes: false, dryRun: false });
  });
});
