/** `status`: flags → runStatus. Always exits 0 (it reports; `doctor` judges). */
import { parseStatusOptions, type StatusFlags } from '../status/options.js';
import { hostContext } from './host.js';

export async function runStatusCommand(flags: StatusFlags): Promise<number> {
  const options = parseStatusOptions(flags);
  const host = hostContext(flags);
  const { runStatus } = await import('../status/run-status.js');
  const outcome = await runStatus({
    ...options,
    ...host.places(),
    color: host.color && !options.json,
    print: host.print,
  });
  return outcome.exitCode;
}
