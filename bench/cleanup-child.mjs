// The `cleanup` command as the CLI runs it (runCleanupCommand from dist/, without
// commander), reporting its own peak RSS:
//   node bench/cleanup-child.mjs '<options as JSON>'
// The last stderr line is {"maxRssKb": n}.
// Loaded by URL rather than a static import so that the type-check reads the
// sources (src/) instead of following the import into dist/.
/** @type {typeof import('../src/commands/cleanup.js')} */
const { runCleanupCommand } = await import(new URL('../dist/commands/cleanup.js', import.meta.url).href);
/** @type {typeof import('../src/errors.js')} */
const { CliError } = await import(new URL('../dist/errors.js', import.meta.url).href);

try {
  process.exitCode = await runCleanupCommand(JSON.parse(process.argv[2] ?? '{}'));
} catch (/** @type {any} */ error) {
  process.stderr.write(`claude-mlflow: ${error instanceof CliError ? error.message : (error?.stack ?? error)}\n`);
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
}
process.stderr.write(`${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })}\n`);
