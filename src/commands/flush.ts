/** `flush`: flags → runFlush. */
import { parseFlushOptions, type FlushFlags } from '../hook/options.js';
import { runFlush } from '../hook/run-flush.js';
import { hostContext } from './host.js';

export async function runFlushCommand(flags: FlushFlags): Promise<number> {
  const options = parseFlushOptions(flags);
  const host = hostContext();
  return runFlush({ ...options, dataRoot: host.dataRoot, env: host.env, print: host.print });
}
