/** `migrate --to postgresql://…`: the command line and the terminal around runMigrate. */
import { CliError, EXIT } from '../errors.js';
import { parseMigrateOptions, type MigrateFlags } from '../migrate/options.js';
import { hostContext } from './host.js';
import { isPromptExit } from './prompt-exit.js';

export async function runMigrateCommand(flags: MigrateFlags): Promise<number> {
  const options = parseMigrateOptions(flags);
  const host = hostContext();
  const { runMigrate } = await import('../migrate/run-migrate.js');
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) return;
    process.stderr.write('\nStopping the copy; it is rolled back and the server started again on SQLite...\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await runMigrate(options, {
      dataRoot: host.dataRoot,
      env: host.env,
      print: host.print,
      confirm: host.confirm(false),
      signal: controller.signal,
    });
  } catch (error) {
    if (isPromptExit(error)) throw new CliError('Cancelled; nothing was changed.', EXIT.cancelled);
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
