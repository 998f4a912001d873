/** Write a project's `.claude/settings.json` with our hook, as `init` will. */
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { distCli } from './venv.js';

/** The hook command, as `claude-mlflow hook --print-command` gives it for this data folder. */
export async function printHookCommand(dataRoot: string): Promise<string> {
  const { stdout } = await execa(process.execPath, [distCli, 'hook', '--print-command'], {
    env: { CLAUDE_MLFLOW_HOME: dataRoot },
  });
  return stdout.trim();
}

export async function writeTracingSettings(project: string, hookCommand: string, env: Record<string, string>): Promise<string> {
  const hook = [{ hooks: [{ type: 'command', command: hookCommand, timeout: 5 }] }];
  const atSessionEnd = [{ hooks: [{ type: 'command', command: hookCommand, timeout: 1.5 }] }];
  const file = path.join(project, '.claude', 'settings.json');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    `${JSON.stringify({ env, hooks: { Stop: hook, SubagentStop: hook, StopFailure: hook, SessionEnd: atSessionEnd } }, null, 2)}\n`,
  );
  return file;
}
