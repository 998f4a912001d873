#!/usr/bin/env node
/** The commander wiring only: each command is loaded when it runs. */
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.js';

const program = new Command();

program
  .name('claude-mlflow')
  .description('Trace every Claude Code session into MLflow, and keep that setup healthy.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program
  .command('hook')
  .description('The Claude Code Stop/SubagentStop hook: reads the hook input on stdin and traces the turn')
  .option('--print-command', 'install the hook runtime into the data folder and print the hook command')
  .action(async (options) => {
    const { runHookCommand } = await import('./commands/hook.js');
    process.exitCode = await runHookCommand(options);
  });

program
  .command('flush')
  .description('Deliver traces that were spooled while the server was unreachable')
  .option('--timeout <seconds>', 'give up after this many seconds', '30')
  .option('--json', 'print the result as JSON')
  .action(async (options) => {
    const { runFlush } = await import('./commands/flush.js');
    process.exitCode = await runFlush(options);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof CliError) {
    process.stderr.write(`claude-mlflow: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`claude-mlflow: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
