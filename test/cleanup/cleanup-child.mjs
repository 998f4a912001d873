// Runs the built `cleanup` command the way cli.ts does (without commander):
// node test/cleanup/cleanup-child.mjs '<options as JSON>'. Exit code and
// stderr as the CLI gives them. For tests that need a real process (SIGINT).
import { runCleanupCommand } from '../../dist/commands/cleanup.js';
import { CliError } from '../../dist/errors.js';

try {
  process.exitCode = await runCleanupCommand(JSON.parse(process.argv[2] ?? '{}'));
} catch (error) {
  process.stderr.write(`claude-mlflow: ${error instanceof CliError ? error.message : (error?.stack ?? error)}\n`);
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
}
