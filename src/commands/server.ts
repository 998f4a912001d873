import { dataDir } from '../config.js';
import { runServerStart, runServerStatus, runServerStop } from '../server/run-server.js';

export async function runServerCommand(action: 'start' | 'stop' | 'status', options: { json?: boolean }): Promise<number> {
  const common = { dataRoot: dataDir(), env: process.env, json: options.json, print: (line: string) => process.stdout.write(`${line}\n`) };
  if (action === 'start') return runServerStart(common);
  if (action === 'stop') return runServerStop(common);
  return runServerStatus(common);
}
