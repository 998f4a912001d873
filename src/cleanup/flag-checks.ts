/**
 * The checks of `cleanup`'s number flags, shared by a cleanup run and by
 * `cleanup --schedule`, which must refuse exactly what the scheduled run would.
 */
import { CliError, EXIT } from '../errors.js';

/** The largest --batch-size (and the largest adaptive batch). */
export const MAX_BATCH_SIZE = 10_000;

/** A whole number from 1 to `max` given to `flag`; undefined when not given. Bad input: CliError, exit 2. */
export function positiveInt(value: string | number | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new CliError(
      `${flag} needs a whole number from 1 to ${max.toLocaleString('en-US')}, got ${JSON.stringify(String(value))}`,
      EXIT.usage,
    );
  }
  return Number(text);
}
