#!/usr/bin/env node
/** The commander wiring only: each command is loaded when it runs. */
import { DEFAULT_MLFLOW_VERSION, TESTED_MLFLOW_VERSIONS } from './core/mlflow-versions.js';
import { Command, CommanderError } from 'commander';
import { packageVersion } from './adapters/package-info.js';
import { CliError } from './errors.js';

const program = new Command();

program
  .name('claude-mlflow')
  .description('Trace every Claude Code session into MLflow, and keep that setup healthy.')
  .version(packageVersion())
  .showHelpAfterError()
  .exitOverride();

program
  .command('init')
  .description('Install MLflow, start a local server and switch tracing on for Claude Code (asks first; --yes takes the defaults)')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .option(
    '--scope <scope>',
    'settings to change: project (.claude/settings.json), local (.claude/settings.local.json) or user (~/.claude/settings.json)',
  )
  .option(
    '--tracking-uri <url>',
    'use an MLflow server you already run (http(s)://…), or a Databricks workspace (databricks, databricks://<profile>), instead of a local server',
  )
  .option('--experiment <name>', 'experiment name (default: the project folder name)')
  .option('--port <port>', 'port of the local server (default 5000, or the next free one)')
  .option('--host <host>', 'address the local server listens on (default 127.0.0.1; anything else exposes your traces)')
  .option('--no-service', 'do not install an OS service (launchd / systemd --user / Task Scheduler); run a managed background process')
  .option('--python <path>', 'the Python (>= 3.10) to create the MLflow venv with')
  .option(
    '--mlflow-version <version>',
    `install exactly this MLflow version (default: ${DEFAULT_MLFLOW_VERSION}; tested, and installed from a lock: ${TESTED_MLFLOW_VERSIONS.join(', ')})`,
  )
  .option('--mlflow <path>', 'use this mlflow executable instead of installing one')
  .option(
    '--backend-store-uri <uri>',
    'store traces in PostgreSQL (postgresql://user:password@host:port/database) instead of SQLite in the data folder; installs the driver and checks the connection first',
  )
  .option(
    '--server-jobs',
    "run MLflow's job execution on the local server, for judges, evaluation and prompt optimization started from its UI (off by default: about 1.8 GB more memory, and tracing does not need it)",
  )
  .option('--no-server-jobs', "switch MLflow's job execution off again (the default)")
  .option(
    '--store-credentials',
    'with --tracking-uri: save MLFLOW_TRACKING_TOKEN (or _USERNAME and _PASSWORD; for databricks, DATABRICKS_HOST and DATABRICKS_TOKEN) from this environment in ~/.claude/settings.json, readable by you only, so that every session can send its trace',
  )
  .option('--no-store-credentials', 'do not save them, and do not ask (the default with --yes)')
  .option('--redact', 'redact secrets in traces before they leave this machine (the default; switches it back on)')
  .option('--no-redact', 'send traces without redacting secrets (not recommended: a trace holds what tools read)')
  .option(
    '--redact-pattern <regex>',
    'also redact what this JavaScript regular expression matches (repeatable)',
    (value: string, all: string[] = []) => [...all, value],
  )
  .option(
    '--redact-allow <value>',
    'never redact this exact value, a known false positive (repeatable)',
    (value: string, all: string[] = []) => [...all, value],
  )
  .option('-y, --yes', "do not ask: take the defaults and replace MLflow's own tracer if found")
  .action(async (options) => {
    const { runInitCommand } = await import('./commands/init.js');
    process.exitCode = await runInitCommand(options);
  });

program
  .command('enable')
  .description('Switch tracing back on (sets MLFLOW_CLAUDE_TRACING_ENABLED=true)')
  .option('--scope <scope>', 'project, local or user (default: every settings file init wrote)')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .action(async (options) => {
    const { runToggleCommand } = await import('./commands/toggle.js');
    process.exitCode = await runToggleCommand(true, options);
  });

program
  .command('disable')
  .description('Pause tracing (sets MLFLOW_CLAUDE_TRACING_ENABLED=false); the hooks stay in place')
  .option('--scope <scope>', 'project, local or user (default: every settings file init wrote)')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .action(async (options) => {
    const { runToggleCommand } = await import('./commands/toggle.js');
    process.exitCode = await runToggleCommand(false, options);
  });

program
  .command('uninstall')
  .description('Remove our hooks and settings, the hook runtime, and stop the server; the database is kept')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .option('--purge', 'also delete the data folder: database, traces, venv, logs and spool')
  .option('--dry-run', 'show what would be removed, and change nothing')
  .option('-y, --yes', 'do not ask before --purge')
  .action(async (options) => {
    const { runUninstallCommand } = await import('./commands/uninstall.js');
    process.exitCode = await runUninstallCommand(options);
  });

const server = program.command('server').description('The local MLflow server that init set up');
for (const [action, description] of [
  ['start', 'Start the local MLflow server and wait until it answers'],
  ['stop', 'Stop the local MLflow server (only ours)'],
  ['restart', 'Restart the local MLflow server and wait until it answers'],
  ['status', 'Manager, PID, port, URL, uptime, health, version and database size'],
  ['logs', 'Show the end of the server log'],
] as const) {
  const command = server.command(action).description(description);
  if (action === 'status') command.option('--json', 'print the status as JSON');
  if (action === 'logs')
    command.option('-f, --follow', 'keep printing new lines (Ctrl-C stops)').option('--lines <n>', 'how many lines', '50');
  command.action(async (options) => {
    const { runServerCommand } = await import('./commands/server.js');
    process.exitCode = await runServerCommand(action, options);
  });
}

program
  .command('doctor')
  .description('Find, explain and fix what stops traces from arriving (exit 0: no check failed, 1: a check failed, 2: bad usage)')
  .option('--check <id>', 'run one check (and gather only the facts it needs)')
  .option('--deep', 'also run the hook end to end on a synthetic session (its trace is deleted again)')
  .option('-v, --verbose', 'show the details of checks that passed')
  .option('--json', 'print the report as JSON (schema: docs/doctor-json-schema.json)')
  .option('--fix', 'apply the safe fixes, after showing them and asking')
  .option('-y, --yes', 'with --fix: apply without asking')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .action(async (options) => {
    const { runDoctorCommand } = await import('./commands/doctor.js');
    process.exitCode = await runDoctorCommand(options);
  });

program
  .command('status')
  .description('One screen: tracing per scope, server, experiment, traces and tokens per day, database, spool')
  .option('--json', 'print the same data as JSON')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .option('--user <name>', "count only this user's traces and tokens (the trace metadata mlflow.trace.user)")
  .action(async (options) => {
    const { runStatusCommand } = await import('./commands/status.js');
    process.exitCode = await runStatusCommand(options);
  });

program
  .command('cleanup')
  .description(
    'Delete old traces through MLflow, after showing the plan; back up and VACUUM the database (exit 0: done, 1: failed, 2: bad usage, 130: cancelled)',
  )
  .option('--older-than <duration>', 'traces older than this: 12h, 30d, 2w (a bare number is refused)')
  .option('--before <date>', 'traces that started before this date (2026-10-01 or an ISO time)')
  .option(
    '--experiment <name-or-id>',
    "clean this experiment (repeatable; default: the one in this project's settings)",
    (value: string, all: string[] = []) => [...all, value],
  )
  .option('--all-experiments', 'clean every experiment on the server')
  .option('--keep-last <n>', 'always keep the newest N traces of each experiment')
  .option('--dry-run', 'show the plan and change nothing')
  .option('-y, --yes', 'do not ask before deleting (and keep old spooled traces)')
  .option('--no-backup', 'skip the backup of the SQLite database before deleting')
  .option('--no-vacuum', 'do not VACUUM the SQLite database afterwards (say how instead)')
  .option('--batch-size <n>', 'traces per MLflow delete call (default: adaptive, from 1,000)')
  .option('--json', 'print the report as JSON: counts, bytes before and after, backup path')
  .option('--project <dir>', 'the project folder (default: the current folder)')
  .option(
    '--schedule <daily|weekly|monthly>',
    'instead of cleaning now, run this cleanup (--older-than, not --before) with --yes on that schedule, under the OS service manager',
  )
  .option('--unschedule', 'remove the scheduled cleanup')
  .action(async (options) => {
    const { runCleanupCommand } = await import('./commands/cleanup.js');
    process.exitCode = await runCleanupCommand(options);
  });

program
  .command('migrate')
  .description(
    "Move the local server's SQLite history to PostgreSQL and run the server there; the SQLite file is kept (exit 0: done, 1: failed, 2: bad usage)",
  )
  .requiredOption('--to <uri>', 'the PostgreSQL database: postgresql://user:password@host:port/database (must be empty)')
  .option('--dry-run', 'check both databases, show the plan and change nothing')
  .option('-y, --yes', 'do not ask before stopping the server and copying')
  .action(async (options) => {
    const { runMigrateCommand } = await import('./commands/migrate.js');
    process.exitCode = await runMigrateCommand(options);
  });

program
  .command('hook')
  .description(
    'The Claude Code Stop/SubagentStop/SessionEnd hook: reads the hook input on stdin, spools the trace of the turn and starts its delivery',
  )
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
    const { runFlushCommand } = await import('./commands/flush.js');
    process.exitCode = await runFlushCommand(options);
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
