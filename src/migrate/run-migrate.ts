/**
 * `migrate --to postgresql://…`: move the local server's SQLite history to
 * PostgreSQL, then run the server on PostgreSQL.
 *
 * 1. Check, change nothing: the local server is ours and on SQLite; the URI
 *    parses; PostgreSQL answers (the driver is installed into our venv first;
 *    with a given mlflow it must already be there); the target is empty.
 * 2. Show the plan. `--dry-run` stops here; otherwise ask (or `--yes`).
 * 3. Stop the server (hooks spool their traces meanwhile), copy every table
 *    with MLflow's own schema in one PostgreSQL transaction, compare counts.
 *    A failure rolls the copy back and starts the server on SQLite again.
 * 4. Switch: the server (its service file too) runs on PostgreSQL; through
 *    it, every copied trace must be found, or the server goes back to SQLite.
 *    Then config.json records the switch, and the spool is delivered.
 *
 * The SQLite file is never written and never removed: the summary says where
 * it is, for the user to remove once satisfied.
 */
import { existsSync, statSync } from 'node:fs';
import { loadConfig, updateConfig, type LocalServerConfig, type StoredConfig } from '../adapters/config-store.js';
import { importedVersion } from '../adapters/python.js';
import { venvBins } from '../adapters/venv-paths.js';
import { paths, type Paths } from '../config.js';
import {
  describePostgres,
  isPostgresUri,
  maskBackendStoreUri,
  parseBackendStoreUri,
  parsePostgresUri,
  withPsycopg2,
  type PostgresStore,
} from '../core/backend-store.js';
import { count } from '../core/format.js';
import {
  describeSource,
  intentDigest,
  missingOnServer,
  planForTarget,
  summarizeSource,
  targetRefusal,
  type InspectEvent,
  type MigrationEvent,
  type SourceSummary,
  type TargetPlan,
} from '../core/migration.js';
import { pythonForMlflow } from '../services/mlflow-python.js';
import { commandLine } from '../core/shell-quote.js';
import { CliError, EXIT } from '../errors.js';
import { deliverSpoolNow, holdDelivery, type HeldDelivery } from '../services/delivery/flush-now.js';
import { clearDeadPause } from '../services/delivery/state.js';
import { checkGivenDriver, checkReachable, CONNECT_TIMEOUT_S, ensureDriver, verifyConnection } from '../services/store/postgres-setup.js';
import { RestBackend } from '../services/trace-backend.js';
import { installServer, stopServer } from '../services/local-server.js';
import { serverUrl } from '../services/server-url.js';
import { runMigrationWorker, type WorkerRequest } from './worker.js';

export interface MigrateOptions {
  to: string;
  dryRun?: boolean;
  yes?: boolean;
}

export interface MigrateDeps {
  dataRoot: string;
  env: NodeJS.ProcessEnv;
  print: (line: string) => void;
  /** Ask yes/no on a terminal; undefined when there is none. */
  confirm?: (message: string) => Promise<boolean>;
  /** Ctrl-C: stops the copy, which is rolled back, and the server goes back to SQLite. */
  signal?: AbortSignal;
}

/** Seconds the flush of traces spooled during the move may take. */
const FLUSH_SECONDS = 60;
/** How long migrate waits for a delivery process at work to step aside (it does so between passes: within its 8 s backoff). */
const HOLD_DELIVERY_MS = 30_000;

/** What migrate knows once its checks are done: the server, both databases, and the worker's view of them. */
interface MigrateContext {
  options: MigrateOptions;
  deps: MigrateDeps;
  files: Paths;
  config: StoredConfig;
  /** The local server, on SQLite. */
  server: LocalServerConfig;
  sqliteFile: string;
  target: PostgresStore;
  /** The target for messages (never its password). */
  where: string;
  /** The Python of the server's MLflow: it runs the migration worker. */
  python: string;
  /** psycopg2 is installed (a dry run installs nothing, so it may not be). */
  driverReady: boolean;
  pgVersion?: string;
  /** The --to this migrate is for, as config.json's `migrating` records it. */
  digest: string;
  /** What the worker is asked, to inspect and then to copy. */
  request: Omit<WorkerRequest, 'mode'>;
  inspected: InspectEvent;
  targetPlan: TargetPlan;
  source: SourceSummary;
  sizeMb: string;
}

/** What the first checks find; the rest of the context comes from the connection and the inspection. */
type MigrateSource = Pick<MigrateContext, 'options' | 'deps' | 'files' | 'config' | 'server' | 'sqliteFile' | 'target' | 'where'>;
type Connection = Pick<MigrateContext, 'python' | 'driverReady' | 'pgVersion'>;

function localServerOf(config: StoredConfig): LocalServerConfig {
  if (!config.server) {
    throw new CliError(
      'no local MLflow server is set up here: migrate moves the database of the server that `claude-mlflow init` runs.',
      EXIT.failure,
    );
  }
  return config.server;
}

/** A server on PostgreSQL: what the earlier migrate to this same --to moved it from; any other PostgreSQL stops migrate. Undefined: on SQLite. */
function movedBefore(config: StoredConfig, server: LocalServerConfig, to: string): StoredConfig['migratedFrom'] {
  if (!isPostgresUri(server.backendStoreUri)) return undefined;
  if (config.migratedFrom && server.backendStoreUri === withPsycopg2(to)) return config.migratedFrom;
  throw new CliError(
    `the local server already stores traces in PostgreSQL (${maskBackendStoreUri(server.backendStoreUri)}); there is nothing to migrate.`,
    EXIT.failure,
  );
}

/** The local server's SQLite file, which must exist. */
function sqliteFileOf(server: LocalServerConfig): string {
  const parsed = parseBackendStoreUri(server.backendStoreUri);
  if (!parsed.ok || parsed.store.kind !== 'sqlite') {
    throw new CliError(
      `the local server's backend store is not an SQLite file (${maskBackendStoreUri(server.backendStoreUri)}); there is nothing to migrate.`,
      EXIT.failure,
    );
  }
  const sqliteFile = parsed.store.file;
  if (!existsSync(sqliteFile))
    throw new CliError(`the server's SQLite database ${sqliteFile} does not exist; there is nothing to migrate.`, EXIT.failure);
  return sqliteFile;
}

function targetOf(to: string): PostgresStore {
  const parsed = parsePostgresUri(to);
  if (!parsed.ok) throw new CliError(`--to ${maskBackendStoreUri(to)}: ${parsed.error}`, EXIT.usage);
  return parsed.store;
}

/** The worker's error as one line with the target named; the password (if ever echoed) masked. */
function workerFailure(event: Extract<MigrationEvent, { event: 'error' }>, store: PostgresStore, what: string): string {
  const secret = store.password && store.password.length >= 4 ? store.password : undefined;
  const text = secret ? event.message.split(secret).join('***') : event.message;
  return `${what}: ${text.replace(/\.$/, '')}`;
}

export async function runMigrate(options: MigrateOptions, deps: MigrateDeps): Promise<number> {
  const files = paths(deps.dataRoot);

  // 1. Check; nothing changes.
  const target = targetOf(options.to);
  const config = loadConfig(files.config);
  const server = localServerOf(config);
  const from = movedBefore(config, server, options.to);
  if (from) return finishedBefore(from, describePostgres(target), deps);
  const found: MigrateSource = {
    options,
    deps,
    files,
    config,
    server,
    sqliteFile: sqliteFileOf(server),
    target,
    where: describePostgres(target),
  };
  const ctx = await inspectDatabases(found, await checkConnection(found));

  // 2. The plan.
  showPlan(ctx);
  if (options.dryRun) {
    deps.print('Dry run: nothing was changed.');
    return EXIT.ok;
  }
  if (!(await confirmMove(ctx))) return EXIT.cancelled;

  // 3. Copy, with the server stopped. No delivery meanwhile: hooks spool, and
  // what they spool is delivered once the server runs on PostgreSQL.
  if (deps.signal?.aborted) throw new CliError('Cancelled; nothing was changed.', EXIT.cancelled);
  await updateConfig(files.config, (config) => ({ ...config, migrating: { target: ctx.digest, at: new Date().toISOString() } }));
  const delivery = await holdDelivery(deps.dataRoot, HOLD_DELIVERY_MS, { pause: true });
  try {
    return await moveAndSwitch(ctx, delivery);
  } finally {
    delivery?.release();
  }
}

/** PostgreSQL answers, with its driver: installed into our venv first (a dry run only looks); a given MLflow must have it already. */
async function checkConnection(found: MigrateSource): Promise<Connection> {
  const { server, target, options, deps } = found;
  await checkReachable(target);
  const python = pythonForMlflow(server.mlflowBin);
  const ours = server.mlflowBin === venvBins(found.files.venv).mlflowBin;
  let driverReady = true;
  if (!ours) {
    await checkGivenDriver(server.mlflowBin, deps.env);
  } else if (options.dryRun) {
    driverReady = Boolean(await importedVersion(python, 'psycopg2', deps.env));
  } else {
    const driver = await ensureDriver(server.mlflowBin, deps.env);
    if (driver.installed) deps.print(`Installed the PostgreSQL driver psycopg2 ${driver.version} into the MLflow venv.`);
  }
  let pgVersion: string | undefined;
  if (driverReady) pgVersion = await verifyConnection(server.mlflowBin, target, deps.env);
  return { python, driverReady, pgVersion };
}

/** The worker reads both databases; what it finds decides the plan for the target, or refuses it. */
async function inspectDatabases(found: MigrateSource, connection: Connection): Promise<MigrateContext> {
  const { options, deps, config, server, sqliteFile, target, where } = found;
  const digest = intentDigest(options.to);
  const request = { sourceFile: sqliteFile, target: connection.driverReady ? withPsycopg2(target.uri) : null, timeout: CONNECT_TIMEOUT_S };
  const inspected = await runMigrationWorker(connection.python, { mode: 'inspect', ...request }, { env: deps.env });
  if (inspected.event === 'error') {
    // An MLflow upgraded under a database it never migrated: MLflow's own command brings the schema up to date.
    const fix =
      inspected.kind === 'source-schema'
        ? ` Stop the server (\`claude-mlflow server stop\`), back up ${sqliteFile}, run \`${commandLine([server.mlflowBin, 'db', 'upgrade', server.backendStoreUri])}\`, start it again, then migrate.`
        : '';
    throw new CliError(`${workerFailure(inspected, target, 'could not read the two databases')}. Nothing was changed.${fix}`, EXIT.failure);
  }
  if (inspected.event !== 'inspect')
    throw new CliError(`the migration check gave no answer (${inspected.event}). Nothing was changed.`, EXIT.failure);
  const targetPlan = planForTarget(inspected, config.migrating?.target === digest);
  const refusal = targetPlan === 'refuse' ? targetRefusal(inspected, where) : undefined;
  if (refusal) throw new CliError(`${refusal}. Nothing was changed.`, EXIT.failure);
  const source = summarizeSource(inspected.source.counts);
  const sizeMb = (statSync(sqliteFile).size / 1e6).toFixed(1);
  return { ...found, ...connection, digest, request, inspected, targetPlan, source, sizeMb };
}

function showPlan(ctx: MigrateContext): void {
  const { print } = ctx.deps;
  const { inspected, targetPlan } = ctx;
  print(`From: SQLite ${ctx.sqliteFile} (${ctx.sizeMb} MB): ${describeSource(ctx.source)}.`);
  print(`To:   ${ctx.where}${ctx.pgVersion ? ` (PostgreSQL ${ctx.pgVersion})` : ''}, ${targetState(inspected, targetPlan)}.`);
  if (!ctx.driverReady)
    print(
      '      (Not checked yet: the PostgreSQL driver psycopg2 is not installed; migrate installs it into the MLflow venv and checks first.)',
    );
  if (targetPlan === 'switch-only') {
    print('Plan: stop the server (hooks keep their traces in the spool meanwhile); run it on PostgreSQL and find every trace through it;');
  } else {
    print(
      `Plan: stop the server (hooks keep their traces in the spool meanwhile); copy every table with MLflow ${inspected.head}'s own schema,`,
    );
    print('      in one transaction, and compare the counts; run the server on PostgreSQL and find every trace through it;');
  }
  print(`      then deliver the spooled traces. The SQLite file is kept as it is.`);
}

/** --yes, or yes on a terminal. False: the user said no, and was told that nothing changed. */
async function confirmMove(ctx: MigrateContext): Promise<boolean> {
  const { options, deps } = ctx;
  if (options.yes) return true;
  if (!deps.confirm) {
    throw new CliError(
      'there is no terminal to confirm on, so nothing was changed. Re-run with --yes to go ahead, or with --dry-run to only see the plan.',
      EXIT.usage,
    );
  }
  if (await deps.confirm(`Move ${count(ctx.source.traces, 'trace')} to PostgreSQL and switch the server over?`)) return true;
  deps.print('Nothing was changed.');
  return false;
}

/** 3. and 4.: stop the server, copy (unless an interrupted migrate's copy is whole), switch, then deliver the spool. */
async function moveAndSwitch(ctx: MigrateContext, delivery: HeldDelivery | undefined): Promise<number> {
  const { deps, files, server, where } = ctx;
  const stopped = await stopServer(deps.dataRoot, server, deps.env);
  if (stopped === 'not-ours') {
    throw new CliError(
      `the server pidfile ${files.serverPid} points at a process that is not our MLflow server; it was left alone, and nothing was changed.`,
      EXIT.failure,
    );
  }
  deps.print('Stopped the MLflow server.');
  if (ctx.targetPlan === 'switch-only') {
    deps.print(`${where} holds every row of the SQLite database: an interrupted migrate committed its copy there. Nothing to copy again.`);
  } else {
    await copyAll(ctx);
  }
  await switchServer(ctx);
  return deliverSpooled(ctx, delivery);
}

/** The copy, with the server stopped; on failure it is rolled back and the server runs on SQLite again. */
async function copyAll(ctx: MigrateContext): Promise<void> {
  const { deps, files, server, targetPlan } = ctx;
  const { print } = deps;
  if (targetPlan === 'copy-again') print(`${ctx.where} holds an interrupted migrate's partial copy: it is replaced.`);
  const started = Date.now();
  let lastTable = '';
  const copied = await runMigrationWorker(
    ctx.python,
    { mode: 'copy', ...ctx.request, replace: targetPlan === 'copy-again' },
    {
      env: deps.env,
      signal: deps.signal,
      onEvent: (event) => {
        if (event.event === 'progress' && event.rows === event.of && event.table !== lastTable && event.of > 0) {
          lastTable = event.table;
          print(`  copied ${event.table}: ${event.rows.toLocaleString('en-US')} rows`);
        }
      },
    },
  );
  if (copied.event !== 'done') {
    // Rolled back: the target holds nothing of ours, so no intent is left to resume.
    await updateConfig(files.config, ({ migrating: _none, ...config }) => config);
    await installServer(deps.dataRoot, server, server, deps.env).catch(() => undefined);
    if (copied.event === 'error' && copied.kind === 'cancelled') {
      throw new CliError('Cancelled: the copy was stopped and rolled back; the server runs on SQLite again, as before.', EXIT.cancelled);
    }
    const why = copied.event === 'error' ? workerFailure(copied, ctx.target, 'the copy failed') : 'the copy gave no result';
    throw new CliError(`${why}. It was rolled back; the server runs on SQLite again, as before.`, EXIT.failure);
  }
  print(`Copied ${count(ctx.source.rows, 'row')} in ${((Date.now() - started) / 1000).toFixed(1)} s; every table's count matches.`);
}

/** How many traces the server finds in each experiment. */
async function tracesOnServer(rest: RestBackend): Promise<Record<string, number>> {
  const onServer: Record<string, number> = {};
  for (const experiment of await rest.listExperiments()) onServer[experiment.id] = await rest.countTraces([experiment.id]);
  return onServer;
}

/** 4. The server (its service file too) runs on PostgreSQL and finds every copied trace, or goes back to SQLite; then config.json records the switch. */
async function switchServer(ctx: MigrateContext): Promise<void> {
  const { deps, files, server, where } = ctx;
  const next: LocalServerConfig = { ...server, backendStoreUri: withPsycopg2(ctx.options.to) };
  const back = async (why: string): Promise<never> => {
    await installServer(deps.dataRoot, server, next, deps.env).catch(() => undefined);
    throw new CliError(`${why}. The server runs on SQLite again, as before; the copy stays in ${where}.`, EXIT.failure);
  };
  try {
    await installServer(deps.dataRoot, next, server, deps.env);
  } catch (error) {
    return back(`the server did not start on PostgreSQL (${(error as Error).message})`);
  }
  const url = serverUrl(next);
  const rest = new RestBackend(url, deps.env);
  let onServer: Record<string, number>;
  try {
    onServer = await tracesOnServer(rest);
  } catch (error) {
    return back(`could not count the traces through the server (${(error as Error).message})`);
  }
  const missing = missingOnServer(ctx.inspected.source.traces, onServer);
  if (missing.length > 0) {
    return back(
      `the server on PostgreSQL finds fewer traces than were copied (${missing.map((m) => `experiment ${m.experimentId}: ${m.found} of ${m.copied}`).join(', ')})`,
    );
  }
  await updateConfig(files.config, ({ migrating: _done, ...config }) => ({
    ...config,
    server: next,
    migratedFrom: { backendStoreUri: server.backendStoreUri, at: new Date().toISOString() },
  }));
  const found = Object.values(onServer).reduce((a, b) => a + b, 0);
  deps.print(`The server at ${url} now stores traces in ${where}; it finds all ${count(found, 'trace')}.`);
}

/** The traces spooled during the move go to the server, now on PostgreSQL; the SQLite file is left to the user. */
async function deliverSpooled(ctx: MigrateContext, delivery: HeldDelivery | undefined): Promise<number> {
  const { deps } = ctx;
  const flushed = await deliverSpoolNow(deps.dataRoot, Date.now() + FLUSH_SECONDS * 1000, deps.env, delivery);
  if (flushed.delivered > 0) deps.print(`Delivered ${count(flushed.delivered, 'trace')} that arrived during the move.`);
  if (flushed.remaining > 0) deps.print(`${count(flushed.remaining, 'spooled trace')} still waiting: run \`claude-mlflow flush\`.`);
  deps.print(
    `The SQLite database is kept at ${ctx.sqliteFile} (${ctx.sizeMb} MB). Nothing reads it any more: remove it when you are satisfied.`,
  );
  return EXIT.ok;
}

/** A migrate to this same target finished before (maybe killed while it delivered the spool): deliver what waits, and say so. */
async function finishedBefore(from: { backendStoreUri: string; at: string }, where: string, deps: MigrateDeps): Promise<number> {
  deps.print(
    `The server already stores traces in ${where}: it was moved there from ${maskBackendStoreUri(from.backendStoreUri)} at ${from.at}. Nothing to move.`,
  );
  clearDeadPause(paths(deps.dataRoot).spool); // a migrate killed after its switch left its pause of delivery
  const flushed = await deliverSpoolNow(deps.dataRoot, Date.now() + FLUSH_SECONDS * 1000, deps.env);
  if (flushed.delivered > 0) deps.print(`Delivered ${count(flushed.delivered, 'spooled trace')}.`);
  if (flushed.remaining > 0) deps.print(`${count(flushed.remaining, 'spooled trace')} still waiting: run \`claude-mlflow flush\`.`);
  return EXIT.ok;
}

function targetState(inspect: InspectEvent, plan: TargetPlan): string {
  if (plan === 'switch-only') return 'with every row already copied by an interrupted migrate';
  if (plan === 'copy-again') return "with an interrupted migrate's partial copy, to be replaced";
  switch (inspect.target.state) {
    case 'empty':
      return 'empty (MLflow creates its schema there)';
    case 'fresh':
      return "with MLflow's empty schema";
    default:
      return 'not inspected';
  }
}
