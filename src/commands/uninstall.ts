import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';
import { runUninstall } from '../init/run-uninstall.js';

export interface UninstallCommandOptions {
  project?: string;
  purge?: boolean;
  yes?: boolean;
  dryRun?: boolean;
}

export async function runUninstallCommand(options: UninstallCommandOptions): Promise<number> {
  const onTty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return runUninstall({
    project: resolve(options.project ?? process.cwd()),
    home: process.env.HOME || homedir(),
    dataRoot: dataDir(),
    purge: Boolean(options.purge),
    yes: Boolean(options.yes),
    dryRun: Boolean(options.dryRun),
    confirm: onTty ? async (message) => (await import('@inquirer/prompts')).confirm({ message, default: false }) : undefined,
    print: (line) => process.stdout.write(`${line}\n`),
  });
}
