/** `server start|stop|restart|status|logs`: flags → the run function of the subcommand. */
import { parseServerOptions, type ServerAction, type ServerFlags } from '../server/options.js';
import { runServerLogs, runServerRestart, runServerStart, runServerStatus, runServerStop } from '../server/run-server.js';
import { hostContext } from './host.js';

export async function runServerCommand(action: ServerAction, flags: ServerFlags): Promise<number> {
  const { lines, follow, json } = parseServerOptions(flags);
  const host = hostContext();
  const common = { dataRoot: host.dataRoot, env: host.env, json, print: host.print };
  switch (action) {
    case 'start':
      return runServerStart(common);
    case 'stop':
      return runServerStop(common);
    case 'restart':
      return runServerRestart(common);
    case 'status':
      return runServerStatus(common);
    case 'logs':
      return runServerLogs({ ...common, lines, follow });
  }
}
