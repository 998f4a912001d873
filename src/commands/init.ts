import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';
import type { InitFlags } from '../init/options.js';

export interface InitCommandOptions extends Omit<InitFlags, 'project'> {
  project?: string;
}

function interactive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI);
}

export async function runInitCommand(options: InitCommandOptions): Promise<number> {
  const { runInit } = await import('../init/run-init.js');
  const prompter = interactive() ? (await import('../init/prompter.js')).inquirerPrompter : undefined;
  await runInit({
    ...options,
    project: resolve(options.project ?? process.cwd()),
    home: process.env.HOME || homedir(),
    dataRoot: dataDir(),
    env: process.env,
    prompter,
    print: (line) => process.stdout.write(`${line}\n`),
    renderer: interactive() ? 'default' : 'simple',
  });
  return 0;
}
