/**
 * `cleanup`: the command line and the terminal around runCleanup. Ctrl-C asks
 * the run to stop between two batches (a second Ctrl-C quits at once, except
 * while the server is paused for VACUUM).
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { dataDir } from '../config.js';
import { CliError, EXIT } from '../errors.js';
import type { SpoolChoice } from '../cleanup/run-cleanup.js';

export interface CleanupCommandOptions {
  olderThan?: string;
  before?: string;
  experiment?: string[];
  allExperiments?: boolean;
  keepLast?: string;
  dryRun?: boolean;
  yes?: boolean;
  /** commander's --no-backup. */
  backup?: boolean;
  /** commander's --no-vacuum. */
  vacuum?: boolean;
  json?: boolean;
  batchSize?: string;
  project?: string;
  /** daily | weekly | monthly: install a recurring job instead of cleaning now. */
  schedule?: string;
  /** Remove the recurring job. */
  unschedule?: boolean;
}

function isPromptExit(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

export async function runCleanupCommand(options: CleanupCommandOptions): Promise<number> {
  if (options.schedule !== undefined || options.unschedule) {
    const { runCleanupSchedule } = await import('../adapters/service/schedule.js');
    return runCleanupSchedule(options, {
      dataRoot: dataDir(),
      project: resolve(options.project ?? process.cwd()),
      home: process.env.HOME || homedir(),
      env: process.env,
      print: (line) => process.stdout.write(`${line}\n`),
    });
  }
  // Questions go to stderr with --json, so that stdout stays one JSON document.
  const out = options.json ? process.stderr : process.stdout;
  const onTty = Boolean(process.stdin.isTTY && out.isTTY && !process.env.CI);
  const controller = new AbortController();
  let critical = false;
  let presses = 0;
  const onSigint = (): void => {
    presses += 1;
    if (presses === 1) {
      controller.abort();
      process.stderr.write('\nStopping after the current batch (what is deleted stays deleted; the rest is untouched)...\n');
    } else if (critical) {
      process.stderr.write('\nThe server is paused for VACUUM; it is started again as soon as that is done.\n');
    } else {
      process.exit(EXIT.cancelled);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const { runCleanup } = await import('../cleanup/run-cleanup.js');
    const prompts = onTty ? await import('@inquirer/prompts') : undefined;
    const result = await runCleanup(
      {
        olderThan: options.olderThan,
        before: options.before,
        experiments: options.experiment,
        allExperiments: options.allExperiments,
        keepLast: options.keepLast,
        dryRun: options.dryRun,
        yes: options.yes,
        backup: options.backup,
        vacuum: options.vacuum,
        json: options.json,
        batchSize: options.batchSize,
      },
      {
        dataRoot: dataDir(),
        project: resolve(options.project ?? process.cwd()),
        home: process.env.HOME || homedir(),
        env: process.env,
        print: (line) => process.stdout.write(`${line}\n`),
        confirm: prompts ? (message) => prompts.confirm({ message, default: false }, { output: out }) : undefined,
        chooseSpool: prompts
          ? (message) =>
              prompts.select<SpoolChoice>(
                {
                  message,
                  default: 'keep',
                  choices: [
                    { value: 'keep', name: 'Keep them (deliver later with `claude-mlflow flush`)' },
                    { value: 'flush', name: 'Deliver the waiting ones to MLflow now' },
                    { value: 'delete', name: 'Delete them' },
                  ],
                },
                { output: out },
              )
          : undefined,
        renderer: options.json ? 'silent' : onTty ? 'default' : 'simple',
        signal: controller.signal,
        onCritical: (on) => {
          critical = on;
        },
      },
    );
    return result.exitCode;
  } catch (error) {
    if (isPromptExit(error)) throw new CliError('Cancelled; nothing was deleted.', EXIT.cancelled);
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
