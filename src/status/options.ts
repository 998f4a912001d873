/** `status`'s flags: what commander hands over, checked into the options runStatus takes. */
import { CliError, EXIT } from '../errors.js';

/** commander's flags for `status`. */
export interface StatusFlags {
  json?: boolean;
  project?: string;
  /** Count only this user's traces (their `mlflow.trace.user`). */
  user?: string;
}

export interface StatusCommandOptions {
  json: boolean;
  /** Checked: non-empty and searchable. */
  user?: string;
}

/** `--user NAME`: non-empty, and searchable (MLflow's filter has no escape for a name with both ' and "). */
export function parseUser(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new CliError('--user needs a user name (as traces record it in mlflow.trace.user)', EXIT.usage);
  if (value.includes("'") && value.includes('"'))
    throw new CliError(`--user cannot hold both ' and ": MLflow's search filter cannot match it`, EXIT.usage);
  return value;
}

/** Bad input: CliError, exit 2. */
export function parseStatusOptions(flags: StatusFlags): StatusCommandOptions {
  const user = parseUser(flags.user);
  return { json: Boolean(flags.json), ...(user === undefined ? {} : { user }) };
}
