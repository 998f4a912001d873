// The `cleanup` command as the CLI runs it (runCleanupCommand from dist/, without
// commander), reporting its own peak RSS:
//   node bench/cleanup-child.mjs '<options as JSON>'
// The last stderr line is {"maxRssKb": n}.
import { runCleanupCommand } from '../dist/commands/cleanup.js';
import { CliError } from '../dist/errors.js';

try {
  process.exitCode = await runCleanupCommand(JSON.parse(process.argv[2] ?? '{}'));
} catch (error) {
  process.stderr.write(`claude-mlflow: ${error instanceof CliError ? error.message : (error?.stack ?? error)}\n`);
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
}
process.stderr.write(`${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })}\n`);
