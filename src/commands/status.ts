import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';

export interface StatusCommandOptions {
  json?: boolean;
  project?: string;
}

/** `status`: always exits 0 (it reports; `doctor` judges). */
export async function runStatusCommand(options: StatusCommandOptions): Promise<number> {
  const { runStatus } = await import('../status/run-status.js');
  const outcome = await runStatus({
    dataRoot: dataDir(),
    project: resolve(options.project ?? process.cwd()),
    home: process.env.HOME || homedir(),
    env: process.env,
    json: Boolean(options.json),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && !options.json,
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return outcome.exitCode;
}
