/** `enable` and `disable`: flags → runToggle. */
import { parseToggleOptions, type ToggleFlags } from '../init/options.js';
import { runToggle } from '../init/run-toggle.js';
import { hostContext } from './host.js';

export function runToggleCommand(enabled: boolean, flags: ToggleFlags): Promise<number> {
  const host = hostContext(flags);
  return runToggle({
    ...parseToggleOptions(enabled, flags),
    project: host.project,
    home: host.home,
    dataRoot: host.dataRoot,
    print: host.print,
  });
}
