import { hookCommand, installHookRuntime } from '../adapters/hook-runtime.js';
import { parseHookOptions, type HookFlags } from '../hook/options.js';
import { deliveryScript } from '../services/delivery/launch.js';
import { hostContext } from './host.js';

/**
 * `hook`: the Stop/SubagentStop/SessionEnd hook itself (reads the hook input on stdin).
 * `hook --print-command`: install the runtime into the data folder and print
 * the command that settings should run.
 */
export async function runHookCommand(flags: HookFlags): Promise<number> {
  const options = parseHookOptions(flags);
  const host = hostContext();
  if (options.printCommand) {
    const { script } = installHookRuntime(host.dataRoot);
    host.print(hookCommand(script));
    return 0;
  }
  const { hookMain } = await import('../hook/main.js');
  return hookMain(deliveryScript(host.dataRoot));
}
