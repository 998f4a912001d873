/** `migrate --to postgresql://…`: the command line and the terminal around runMigrate. */
import { dataDir } from '../config.js';
import { CliError, EXIT } from '../errors.js';

export interface MigrateCommandOptions {
  to: string;
  dryRun?: boolean;
  yes?: boolean;
}

function isPromptExit(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

export async function runMigrateCommand(options: MigrateCommandOptions): Promise<number> {
  const onTty = Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI);
  const { runMigrate } = await import('../migrate/run-migrate.js');
  const prompts = onTty ? await import('@inquirer/prompts') : undefined;
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) return;
    process.stderr.write('\nStopping the copy; it is rolled back and the server started again on SQLite...\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await runMigrate(
      { to: options.to, dryRun: options.dryRun, yes: options.yes },
      {
        dataRoot: dataDir(),
        env: process.env,
        print: (line) => process.stdout.write(`${line}\n`),
        confirm: prompts ? (message) => prompts.confirm({ message, default: false }) : undefined,
        signal: controller.signal,
      },
    );
  } catch (error) {
    if (isPromptExit(error)) throw new CliError('Cancelled; nothing was changed.', EXIT.cancelled);
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
