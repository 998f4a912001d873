import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';
import { runToggle } from '../init/run-toggle.js';

export interface ToggleCommandOptions {
  scope?: string;
  project?: string;
}

/** `enable` and `disable`. */
export function runToggleCommand(enabled: boolean, options: ToggleCommandOptions): Promise<number> {
  return runToggle({
    enabled,
    scope: options.scope,
    project: resolve(options.project ?? process.cwd()),
    home: process.env.HOME || homedir(),
    dataRoot: dataDir(),
    print: (line) => process.stdout.write(`${line}\n`),
  });
}
