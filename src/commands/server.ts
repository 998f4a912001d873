import { dataDir } from '../config.js';
import { runServerLogs, runServerRestart, runServerStart, runServerStatus, runServerStop } from '../server/run-server.js';

export type ServerAction = 'start' | 'stop' | 'restart' | 'status' | 'logs';

export async function runServerCommand(
  action: ServerAction,
  options: { json?: boolean; follow?: boolean; lines?: string },
): Promise<number> {
  const common = { dataRoot: dataDir(), env: process.env, json: options.json, print: (line: string) => process.stdout.write(`${line}\n`) };
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
      return runServerLogs({ ...common, lines: options.lines ?? '50', follow: options.follow });
  }
}
