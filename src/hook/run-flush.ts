/** `flush`: deliver the traces that were spooled while the server was unreachable, oldest first. */
import { paths } from '../config.js';
import { listSpoolFiles } from '../adapters/spool.js';
import { deliverSpoolNow } from '../services/delivery/flush-now.js';
import type { FlushCommandOptions } from './options.js';

export interface FlushOptions extends FlushCommandOptions {
  dataRoot: string;
  env: NodeJS.ProcessEnv;
  print: (line: string) => void;
}

/** Exit 1 while traces are left in the spool (or a file in it is unreadable). */
export async function runFlush(options: FlushOptions): Promise<number> {
  const { dataRoot, print } = options;
  const waiting = listSpoolFiles(paths(dataRoot).spool).length;
  const result = await deliverSpoolNow(dataRoot, Date.now() + options.timeoutSeconds * 1000, options.env);
  if (options.json) {
    const { seen: _seen, down: _down, ...shown } = result;
    print(JSON.stringify({ waiting, ...shown }));
  } else if (waiting === 0 && result.unreadable.length === 0) {
    print('Spool is empty: nothing to deliver.');
  } else {
    print(`Delivered ${result.delivered} of ${waiting} spooled trace(s); ${result.remaining} left.`);
    for (const file of result.unreadable) print(`Unreadable spool file, left in place: ${file}`);
    for (const file of result.rejected) print(`Refused by the server, moved aside: ${file}`);
    if (result.error) print(`Stopped at: ${result.error}`);
  }
  return result.remaining > 0 || result.unreadable.length > 0 ? 1 : 0;
}
