/** `server start|stop|restart|status|logs`: the subcommands and their flags. */
import { CliError, EXIT } from '../errors.js';

export type ServerAction = 'start' | 'stop' | 'restart' | 'status' | 'logs';

/** commander's flags: `--json` for status, `--follow` and `--lines` for logs. */
export interface ServerFlags {
  json?: boolean;
  follow?: boolean;
  lines?: string;
}

export interface ServerCommandFlags {
  json?: boolean;
  follow?: boolean;
  /** `--lines` as given (checked by parseLines once the server is known to be set up). */
  lines: string;
}

export const DEFAULT_LOG_LINES = '50';

export function parseServerOptions(flags: ServerFlags): ServerCommandFlags {
  return { json: flags.json, follow: flags.follow, lines: flags.lines ?? DEFAULT_LOG_LINES };
}

/** `--lines N`: a whole number, 0 or more. Bad input: CliError, exit 2. */
export function parseLines(value: string): number {
  const lines = Number(value);
  if (!Number.isInteger(lines) || lines < 0) throw new CliError(`--lines must be a whole number, got "${value}"`, EXIT.usage);
  return lines;
}
