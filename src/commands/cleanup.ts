/**
 * `cleanup`: the command line and the terminal around runCleanup (or, with
 * --schedule / --unschedule, runCleanupSchedule). Ctrl-C asks the run to stop
 * between two batches (a second Ctrl-C quits at once, except while the server
 * is paused for VACUUM).
 */
import { CliError, EXIT } from '../errors.js';
import { isScheduleRequest, parseCleanupOptions, parseScheduleOptions, type CleanupFlags } from '../cleanup/options.js';
import type { SpoolChoice } from '../cleanup/run-cleanup.js';
import { hostContext } from './host.js';
import { isPromptExit } from './prompt-exit.js';

/** What to do with spool files older than the cut-off, asked on `output`. */
function chooseSpoolOn(output: NodeJS.WriteStream): (message: string) => Promise<SpoolChoice> {
  return async (message) =>
    (await import('@inquirer/prompts')).select<SpoolChoice>(
      {
        message,
        default: 'keep',
        choices: [
          { value: 'keep', name: 'Keep them (deliver later with `claude-mlflow flush`)' },
          { value: 'flush', name: 'Deliver the waiting ones to MLflow now' },
          { value: 'delete', name: 'Delete them' },
        ],
      },
      { output },
    );
}

export async function runCleanupCommand(flags: CleanupFlags): Promise<number> {
  if (isScheduleRequest(flags)) {
    const { runCleanupSchedule } = await import('../cleanup/schedule.js');
    const host = hostContext(flags);
    return runCleanupSchedule(parseScheduleOptions(flags), {
      ...host.places(),
      print: host.print,
    });
  }
  const options = parseCleanupOptions(flags);
  // Questions go to stderr with --json, so that stdout stays one JSON document.
  const questions = options.json ? process.stderr : process.stdout;
  const host = hostContext(flags, questions);
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
    const result = await runCleanup(options, {
      ...host.places(),
      print: host.print,
      confirm: host.confirm(false),
      chooseSpool: host.interactive ? chooseSpoolOn(questions) : undefined,
      renderer: options.json ? 'silent' : host.interactive ? 'default' : 'simple',
      signal: controller.signal,
      onCritical: (on) => {
        critical = on;
      },
    });
    return result.exitCode;
  } catch (error) {
    if (isPromptExit(error)) throw new CliError('Cancelled; nothing was deleted.', EXIT.cancelled);
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
