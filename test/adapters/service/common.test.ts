/** What the service managers share: templates, names, the spec for a background.ts ServerSpec, the command runner. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverArgs, type ServerSpec } from '../../../src/adapters/service/background.js';
import { fillTemplate, loadTemplate, runCommand, serviceName, serviceSpecFor } from '../../../src/adapters/service/common.js';
import { CliError } from '../../../src/errors.js';

describe('fillTemplate', () => {
  it('substitutes in one pass', () => {
    expect(fillTemplate('a={{A}} b={{B}} a={{A}}', { A: '{{B}}', B: '2' })).toBe('a={{B}} b=2 a={{B}}');
  });
  it('a placeholder without a value, or a value without a placeholder, throws', () => {
    expect(() => fillTemplate('{{A}} {{B}}', { A: '1' })).toThrow(/\{\{B\}\}/);
    expect(() => fillTemplate('{{A}}', { A: '1', C: '3' })).toThrow(/C/);
  });
  it('finds the templates shipped in templates/', () => {
    for (const name of ['launchd.plist', 'systemd.service', 'schtasks.cmd']) expect(loadTemplate(name)).toMatch(/\{\{[A-Z_]+\}\}/);
  });
});

describe('serviceName', () => {
  it('drops the reverse-DNS prefix and joins the rest with dashes', () => {
    expect(serviceName('dev.claude-mlflow.server')).toBe('claude-mlflow-server');
    expect(serviceName('claude-mlflow')).toBe('claude-mlflow');
  });
  it('refuses labels that are not plain names', () => {
    for (const bad of ['', '../x', 'a b', 'a..b', '.a', 'a/b']) expect(() => serviceName(bad), bad).toThrow(CliError);
  });
});

describe('serviceSpecFor', () => {
  it('runs what the background manager runs, in the data folder, logging to its log', () => {
    const root = '/home/me/.local/share/claude-mlflow';
    const server: ServerSpec = {
      mlflowBin: `${root}/venv/bin/mlflow`,
      backendStoreUri: `sqlite:///${root}/mlflow.db`,
      artifactsDir: `${root}/artifacts`,
      host: '127.0.0.1',
      port: 5000,
      logFile: `${root}/logs/server.log`,
      pidFile: `${root}/server.pid`,
      env: { SECRET_TOKEN: 'never copied into a unit file' },
    };
    expect(serviceSpecFor(server, { environment: { MLFLOW_DISABLE_TELEMETRY: 'true' }, platform: 'linux' })).toEqual({
      label: 'dev.claude-mlflow.server',
      mlflowBin: server.mlflowBin,
      args: serverArgs(server),
      workingDirectory: root,
      stdoutPath: server.logFile,
      stderrPath: server.logFile,
      environment: { PYTHONUNBUFFERED: '1', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', MLFLOW_DISABLE_TELEMETRY: 'true' },
    });
    const win = serviceSpecFor({ ...server, pidFile: 'C:\\Users\\me\\AppData\\Local\\claude-mlflow\\server.pid' }, { platform: 'win32' });
    expect(win.workingDirectory).toBe('C:\\Users\\me\\AppData\\Local\\claude-mlflow');
  });
});

describe('runCommand', () => {
  it('never rejects: exit codes and output come back; a missing command is exit 127', async () => {
    const env = { PATH: '/usr/bin:/bin' };
    expect(await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'], env)).toEqual({ exitCode: 3, stdout: 'out', stderr: 'err' });
    const missing = await runCommand('no-such-command-claude-mlflow', [], { PATH: path.join('/nonexistent') });
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toMatch(/ENOENT/);
  });
});
