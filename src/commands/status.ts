import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';
import { CliError, EXIT } from '../errors.js';

export interface StatusCommandOptions {
  json?: boolean;
  project?: string;
  /** Count only this user's traces (their `mlflow.trace.user`). */
  user?: string;
}

/** `--user NAME`: non-empty, and searchable (MLflow's filter has no escape for a name with both ' and "). */
export function parseUser(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new CliError('--user needs a user name (as traces record it in mlflow.trace.user)', EXIT.usage);
  if (value.includes("'") && value.includes('"')) throw new CliError(`--user cannot hold both ' and ": MLflow's search filter cannot match it`, EXIT.usage);
  return value;
}

/** `status`: always exits 0 (it reports; `doctor` judges). */
export async function runStatusCommand(options: StatusCommandOptions): Promise<number> {
  const user = parseUser(options.user);
  const { runStatus } = await import('../status/run-status.js');
  const outcome = await runStatus({
    ...(user === undefined ? {} : { user }),
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
