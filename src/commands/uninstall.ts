/** `uninstall`: flags → runUninstall; `--purge` asks on a terminal. */
import { parseUninstallOptions, type UninstallFlags } from '../init/options.js';
import { runUninstall } from '../init/run-uninstall.js';
import { hostContext } from './host.js';

export async function runUninstallCommand(flags: UninstallFlags): Promise<number> {
  const host = hostContext(flags);
  return runUninstall({
    ...parseUninstallOptions(flags),
    project: host.project,
    home: host.home,
    dataRoot: host.dataRoot,
    confirm: host.confirm(false),
    print: host.print,
  });
}
