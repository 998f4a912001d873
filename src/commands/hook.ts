import { dataDir } from '../config.js';
import { hookCommand, installHookRuntime } from '../adapters/hook-runtime.js';
import { deliveryScript } from '../services/delivery/launch.js';

export interface HookOptions {
  printCommand?: boolean;
}

/**
 * `hook`: the Stop/SubagentStop/SessionEnd hook itself (reads the hook input on stdin).
 * `hook --print-command`: install the runtime into the data folder and print
 * the command that settings should run.
 */
export async function runHookCommand(options: HookOptions): Promise<number> {
  if (options.printCommand) {
    const { script } = installHookRuntime(dataDir());
    process.stdout.write(`${hookCommand(script)}\n`);
    return 0;
  }
  const { hookMain } = await import('../hook/main.js');
  return hookMain(deliveryScript(dataDir()));
}
