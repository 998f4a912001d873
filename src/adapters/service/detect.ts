/** Which service manager this machine has, and the manager for a name. */
import { createLaunchdManager } from './launchd.js';
import { createSchtasksManager } from './schtasks.js';
import { createSystemdManager } from './systemd.js';
import type { ManagerContext, ManagerName, ServiceManager } from './types.js';

/**
 * darwin: launchd, when `launchctl print gui/<uid>` answers (there is a GUI
 * login session to put an agent into; over a bare SSH login there is none).
 * linux: systemd, when the user's own manager runs (`systemctl --user
 * show-environment` exits 0); containers and WSL without systemd get the
 * background process. win32: Task Scheduler. Anything else: background.
 */
export async function chooseManager(
  ctx: ManagerContext,
  platform: NodeJS.Platform = process.platform,
): Promise<ManagerName | 'background'> {
  if (platform === 'darwin') {
    const r = await ctx.run('launchctl', ['print', `gui/${ctx.uid}`]);
    return r.exitCode === 0 ? 'launchd' : 'background';
  }
  if (platform === 'linux') {
    const r = await ctx.run('systemctl', ['--user', 'show-environment']);
    return r.exitCode === 0 ? 'systemd' : 'background';
  }
  if (platform === 'win32') return 'schtasks';
  return 'background';
}

export function createManager(name: ManagerName, ctx: ManagerContext): ServiceManager {
  switch (name) {
    case 'launchd':
      return createLaunchdManager(ctx);
    case 'systemd':
      return createSystemdManager(ctx);
    case 'schtasks':
      return createSchtasksManager(ctx);
  }
}
