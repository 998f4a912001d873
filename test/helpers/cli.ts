/** Run the built CLI as a user would, with a temp HOME and data folder. */
import { execa } from 'execa';
import { distCli } from './venv.js';

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { cwd?: string; home: string; data: string; env?: Record<string, string>; input?: string },
): Promise<CliRun> {
  const result = await execa(process.execPath, [distCli, ...args], {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: options.home,
      CLAUDE_MLFLOW_HOME: options.data,
      CI: 'true',
      MLFLOW_DISABLE_TELEMETRY: 'true',
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
      ...options.env,
    },
    extendEnv: false,
    reject: false,
    input: options.input ?? '',
    timeout: 300_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
