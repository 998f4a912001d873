/** The flags of `hook` and of `flush` (which delivers what the hook spooled). */
import { CliError, EXIT } from '../errors.js';

/** commander's flags for `hook`. */
export interface HookFlags {
  printCommand?: boolean;
}

export interface HookCommandOptions {
  /** Install the hook runtime and print its command, instead of running the hook. */
  printCommand: boolean;
}

export function parseHookOptions(flags: HookFlags): HookCommandOptions {
  return { printCommand: Boolean(flags.printCommand) };
}

/** commander's flags for `flush` (`--timeout` defaults to "30"). */
export interface FlushFlags {
  timeout: string;
  json?: boolean;
}

export interface FlushCommandOptions {
  timeoutSeconds: number;
  json: boolean;
}

/** `--timeout` must be a positive number of seconds. Bad input: CliError, exit 2. */
export function parseFlushOptions(flags: FlushFlags): FlushCommandOptions {
  const seconds = Number(flags.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new CliError(`--timeout must be a positive number of seconds, got "${flags.timeout}"`, EXIT.usage);
  return { timeoutSeconds: seconds, json: Boolean(flags.json) };
}
