import { dataDir, paths } from '../config.js';
import { CliError } from '../errors.js';
import { deliverSpoolNow } from '../services/delivery/flush-now.js';
import { listSpoolFiles } from '../adapters/spool.js';

export interface FlushOptions {
  timeout: string;
  json?: boolean;
}

/** `flush`: deliver the spooled traces, oldest first. */
export async function runFlush(options: FlushOptions): Promise<number> {
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError(`--timeout must be a positive number of seconds, got "${options.timeout}"`, 2);
  const root = dataDir();
  const waiting = listSpoolFiles(paths(root).spool).length;
  const result = await deliverSpoolNow(root, Date.now() + seconds * 1000, process.env);
  if (options.json) {
    const { seen: _seen, down: _down, ...shown } = result;
    process.stdout.write(`${JSON.stringify({ waiting, ...shown })}\n`);
  } else if (waiting === 0 && result.unreadable.length === 0) {
    process.stdout.write('Spool is empty: nothing to deliver.\n');
  } else {
    process.stdout.write(`Delivered ${result.delivered} of ${waiting} spooled trace(s); ${result.remaining} left.\n`);
    for (const file of result.unreadable) process.stdout.write(`Unreadable spool file, left in place: ${file}\n`);
    for (const file of result.rejected) process.stdout.write(`Refused by the server, moved aside: ${file}\n`);
    if (result.error) process.stdout.write(`Stopped at: ${result.error}\n`);
  }
  return result.remaining > 0 || result.unreadable.length > 0 ? 1 : 0;
}
