import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';

export interface DoctorCommandOptions {
  check?: string;
  deep?: boolean;
  verbose?: boolean;
  json?: boolean;
  fix?: boolean;
  yes?: boolean;
  project?: string;
}

/** `doctor`: exit 0 when no check failed (warnings allowed), 1 when one did, 2 on bad usage. */
export async function runDoctorCommand(options: DoctorCommandOptions): Promise<number> {
  const { runDoctor } = await import('../doctor/run-doctor.js');
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI);
  const outcome = await runDoctor({
    dataRoot: dataDir(),
    project: resolve(options.project ?? process.cwd()),
    home: process.env.HOME || homedir(),
    env: process.env,
    check: options.check,
    deep: Boolean(options.deep),
    verbose: Boolean(options.verbose),
    json: Boolean(options.json),
    fix: Boolean(options.fix),
    yes: Boolean(options.yes),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && !options.json,
    confirm: tty ? async (message) => (await import('@inquirer/prompts')).confirm({ message, default: true }) : undefined,
    print: (line) => process.stdout.write(`${line}\n`),
    printError: (line) => process.stderr.write(`claude-mlflow: ${line}\n`),
  });
  return outcome.exitCode;
}
