/**
 * `doctor --fix`: the safe fixes. Each one re-reads what it changes (never
 * the facts of the run that offered it), changes only what is ours, writes
 * settings as strict JSON with a backup, and never stops a process that
 * claude-mlflow did not start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, updateConfig } from '../adapters/config-store.js';
import { hookCommand, installHookRuntime } from '../adapters/hook-runtime.js';
import { nextFreePort, whoListens } from '../adapters/ports.js';
import { ensureMlflowVenv, findPython } from '../adapters/python.js';
import { withFileLock } from '../adapters/file-lock.js';
import { loadSettings, saveSettings } from '../adapters/settings-file.js';
import { paths } from '../config.js';
import type { FixId } from '../core/checks/check.js';
import { sameTrackingUri } from '../core/checks/server.js';
import { plural } from '../core/format.js';
import { SCOPES } from '../core/scopes.js';
import { ourHooksIn } from '../core/checks/settings-derived.js';
import { HOOK_EVENTS, migrateLegacyEnvironment, setTracingEnabled } from '../core/settings.js';
import { deliverSpoolNow } from '../services/delivery/flush-now.js';
import { ensureServerRunning, installServer, serverState } from '../services/local-server.js';
import { serverUrl } from '../services/server-url.js';
import type { HostEnvironment } from '../services/host-environment.js';
import type { FixOutcome } from './render.js';
import { filterOurHooks, replaceEnvValue, setOurHookCommand, stringifyEnv } from './settings-edits.js';
import { readScope, scopeFiles } from '../services/settings-scan.js';

export interface FixEnvironment extends HostEnvironment {
  /** The hook runtime to install (default: the bundled one). */
  hookRuntimeSource?: string;
  /** Progress lines (e.g. pip output while MLflow installs). */
  progress?: (line: string) => void;
}

/** What each fix does, shown before asking. */
export const FIX_DESCRIPTIONS: Record<FixId, string> = {
  'rewrite-strict-json':
    'Rewrite settings files that have comments or trailing commas as strict JSON (the old text is kept in <file>.claude-mlflow.bak)',
  'migrate-environment': 'Move a legacy "environment" block into "env", and make every env value a string',
  'dedupe-hooks': 'Keep our hook once per event, in the settings file init recorded, and remove the other copies',
  'enable-tracing': 'Set MLFLOW_CLAUDE_TRACING_ENABLED=true under env',
  'set-tracking-uri': 'Point MLFLOW_TRACKING_URI in the settings at our server',
  'reinstall-hook-runtime': 'Reinstall the hook runtime into the data folder',
  'rewrite-hook-command': 'Rewrite our hook command with this Node and the installed hook runtime',
  'reinstall-mlflow': 'Recreate the MLflow virtualenv in the data folder (downloads MLflow)',
  'move-port': 'Move our MLflow server to the next free port, updating config.json and the settings (the other program is left alone)',
  'start-server': 'Start the MLflow server',
  'flush-spool': 'Deliver the spooled traces',
};

type Doc = Record<string, unknown>;

/** Settings files doctor may write: never the managed one. */
function writableFiles(fx: FixEnvironment): Array<{ scope: string; file: string }> {
  return scopeFiles({ project: fx.project, home: fx.home, platform: fx.platform, managedFile: null });
}

/** Edit one settings file under its lock; `edit` returns the new doc, or undefined for no change. */
async function editSettings(
  file: string,
  edit: (doc: Doc, strict: boolean) => Doc | undefined,
): Promise<{ written: boolean; backup?: string }> {
  return withFileLock(file, () => {
    const loaded = loadSettings(file);
    if (!loaded.exists) return { written: false };
    const next = edit(loaded.doc, loaded.strict);
    if (next === undefined) return { written: false };
    return saveSettings(loaded, next);
  });
}

function written(changes: Array<{ file: string; written: boolean; backup?: string }>): string {
  const files = changes.filter((c) => c.written);
  if (files.length === 0) return 'nothing needed changing';
  return files.map((c) => `${c.file}${c.backup ? ` (backup ${c.backup})` : ''}`).join(', ');
}

async function rewriteStrictJson(fx: FixEnvironment): Promise<string> {
  const changes = [];
  for (const { file } of writableFiles(fx)) {
    const scope = readScope('user', file);
    if (scope.parse !== 'relaxed') continue;
    changes.push({ file, ...(await editSettings(file, (doc, strict) => (strict ? undefined : doc))) });
  }
  return `Rewrote as strict JSON: ${written(changes)}`;
}

async function migrateEnvironment(fx: FixEnvironment): Promise<string> {
  const changes = [];
  for (const { file } of writableFiles(fx)) {
    if (!existsSync(file)) continue;
    changes.push({
      file,
      ...(await editSettings(file, (doc) => {
        const migrated = migrateLegacyEnvironment(doc);
        const strings = stringifyEnv(migrated.doc);
        return migrated.changed || strings.changed.length ? strings.doc : undefined;
      })),
    });
  }
  return `Fixed env blocks: ${written(changes)}`;
}

/** Files in the order the keeper of our hook is chosen: init's records first, then project, local, user. */
function preferredFiles(fx: FixEnvironment): string[] {
  const recorded = (loadConfig(paths(fx.dataRoot).config).installs ?? []).map((i) => i.file);
  const byScope = SCOPES.map((scope) => writableFiles(fx).find((f) => f.scope === scope)?.file).filter((f): f is string => !!f);
  return [...new Set([...recorded, ...byScope])].filter((f) => writableFiles(fx).some((w) => w.file === f));
}

async function dedupeHooks(fx: FixEnvironment): Promise<string> {
  const files = preferredFiles(fx);
  const docs = new Map<string, Doc>();
  for (const file of files) {
    const scope = readScope('user', file);
    if (scope.doc && (scope.parse === 'ok' || scope.parse === 'relaxed')) docs.set(file, scope.doc);
  }
  // Per event: the first preferred file that has ours keeps its first entry.
  const keeper = new Map<string, string>();
  for (const event of HOOK_EVENTS) {
    const file = files.find((f) => docs.get(f) && ourHooksIn(docs.get(f)!).some((h) => h.event === event));
    if (file) keeper.set(event, file);
  }
  const changes = [];
  for (const file of docs.keys()) {
    const result = await editSettings(file, (doc) => {
      const { doc: next, dropped } = filterOurHooks(doc, (event, nth) => keeper.get(event) === file && nth === 0);
      return dropped > 0 ? next : undefined;
    });
    changes.push({ file, ...result });
  }
  const kept = [...keeper.entries()].map(([event, file]) => `${event} in ${file}`).join('; ');
  return `Kept our hook once (${kept || 'none found'}); changed ${written(changes)}`;
}

async function enableTracing(fx: FixEnvironment): Promise<string> {
  const files = preferredFiles(fx);
  const target =
    files.find((f) => {
      const s = readScope('user', f);
      return s.doc && ourHooksIn(s.doc).length > 0;
    }) ?? files[0];
  if (!target) return 'No settings file to write';
  const result = await editSettings(target, (doc) => {
    const r = setTracingEnabled(doc, true);
    return r.changed ? r.doc : undefined;
  });
  return `Set MLFLOW_CLAUDE_TRACING_ENABLED=true: ${written([{ file: target, ...result }])}`;
}

function expectedUri(fx: FixEnvironment): string | undefined {
  const config = loadConfig(paths(fx.dataRoot).config);
  return config.server ? serverUrl(config.server) : config.trackingUri;
}

async function setTrackingUri(fx: FixEnvironment): Promise<string> {
  const expected = expectedUri(fx);
  if (!expected) throw new Error('no tracking URI recorded by init');
  const changes = [];
  for (const { file } of writableFiles(fx)) {
    if (!existsSync(file)) continue;
    const result = await editSettings(file, (doc) => {
      const r = replaceEnvValue(doc, 'MLFLOW_TRACKING_URI', expected, (v) => typeof v !== 'string' || !sameTrackingUri(v, expected));
      return r.changed ? r.doc : undefined;
    });
    changes.push({ file, ...result });
  }
  return `Set MLFLOW_TRACKING_URI=${expected}: ${written(changes)}`;
}

function reinstallRuntime(fx: FixEnvironment): string {
  const runtime = installHookRuntime(fx.dataRoot, fx.hookRuntimeSource);
  return runtime.changed ? `Installed the hook runtime at ${runtime.script}` : `The hook runtime at ${runtime.script} is up to date`;
}

async function rewriteHookCommand(fx: FixEnvironment): Promise<string> {
  const runtime = installHookRuntime(fx.dataRoot, fx.hookRuntimeSource);
  const command = hookCommand(runtime.script);
  const changes = [];
  for (const { file } of writableFiles(fx)) {
    if (!existsSync(file)) continue;
    const result = await editSettings(file, (doc) => {
      const r = setOurHookCommand(doc, command);
      return r.changed ? r.doc : undefined;
    });
    changes.push({ file, ...result });
  }
  return `Hook command is now \`${command}\`: ${written(changes)}`;
}

function localServer(fx: FixEnvironment) {
  const config = loadConfig(paths(fx.dataRoot).config);
  if (!config.server) throw new Error('no local MLflow server is set up (run `claude-mlflow init`)');
  return { config, server: config.server };
}

async function startServer(fx: FixEnvironment): Promise<string> {
  const { server } = localServer(fx);
  const result = await ensureServerRunning(fx.dataRoot, server, fx.env);
  const how = server.manager === 'background' ? '' : ` under ${server.manager}`;
  return `${result.started ? 'Started' : 'Running:'} the MLflow server at ${serverUrl(server)}${how}${result.pid ? ` (PID ${result.pid})` : ''}`;
}

async function flush(fx: FixEnvironment): Promise<string> {
  const result = await deliverSpoolNow(fx.dataRoot, Date.now() + 30_000, fx.env);
  if (result.remaining > 0)
    throw new Error(`delivered ${result.delivered}, ${result.remaining} still waiting${result.error ? `: ${result.error}` : ''}`);
  return `Delivered ${plural(result.delivered, 'spooled trace')}${result.rejected.length ? `; ${result.rejected.length} refused by the server, moved to spool/rejected` : ''}`;
}

async function movePort(fx: FixEnvironment): Promise<string> {
  const { server } = localServer(fx);
  const oldPort = server.port;
  const oldUrl = serverUrl(server);
  const state = await serverState(fx.dataRoot, server, fx.env);
  const ourPid = state.running ? state.pid : undefined;
  const foreign = (await whoListens(oldPort)).filter((h) => h.pid !== undefined && h.pid !== ourPid);
  const port = await nextFreePort(oldPort + 1, server.host);
  const moved = { ...server, port };
  const url = serverUrl(moved);
  await updateConfig(paths(fx.dataRoot).config, (current) => ({
    ...current,
    server: moved,
    ...(current.trackingUri && sameTrackingUri(current.trackingUri, oldUrl) ? { trackingUri: url } : {}),
  }));
  for (const { file } of writableFiles(fx)) {
    if (!existsSync(file)) continue;
    await editSettings(file, (doc) => {
      const r = replaceEnvValue(doc, 'MLFLOW_TRACKING_URI', url, (v) => typeof v === 'string' && sameTrackingUri(v, oldUrl));
      return r.changed ? r.doc : undefined;
    });
  }
  // Moves our own server (background process or OS service) to the new port; nothing else is stopped.
  const result = await installServer(fx.dataRoot, moved, server, fx.env);
  const who = foreign.length
    ? ` PID ${foreign.map((h) => `${h.pid}${h.command ? ` (${h.command.slice(0, 80)})` : ''}`).join(', ')} still holds port ${oldPort}; it was left alone. To go back to ${oldPort}, stop it yourself (kill ${foreign.map((h) => h.pid).join(' ')}) and run \`claude-mlflow init --port ${oldPort}\`.`
    : '';
  return `Moved the MLflow server from port ${oldPort} to ${port}${result.pid ? ` (PID ${result.pid})` : ''}; MLFLOW_TRACKING_URI is now ${url}.${who}`;
}

async function reinstallMlflow(fx: FixEnvironment): Promise<string> {
  const { server } = localServer(fx);
  const venvDir = paths(fx.dataRoot).venv;
  const python = await findPython({ env: fx.env });
  const venv = await ensureMlflowVenv({ venvDir, python, env: fx.env, onLine: fx.progress });
  if (venv.mlflowBin !== server.mlflowBin)
    await updateConfig(paths(fx.dataRoot).config, (current) => ({ ...current, server: { ...server, mlflowBin: venv.mlflowBin } }));
  // A PostgreSQL backend store needs its driver in the new venv too.
  const { ensureDriver, postgresStoreOf } = await import('../services/store/postgres-setup.js');
  const driver = postgresStoreOf(server.backendStoreUri) ? await ensureDriver(venv.mlflowBin, fx.env, fx.progress) : undefined;
  return `MLflow ${venv.version}${driver ? ` and psycopg2 ${driver.version} are` : ' is'} installed in ${join(venvDir)}`;
}

const APPLY: Record<FixId, (fx: FixEnvironment) => Promise<string> | string> = {
  'rewrite-strict-json': rewriteStrictJson,
  'migrate-environment': migrateEnvironment,
  'dedupe-hooks': dedupeHooks,
  'enable-tracing': enableTracing,
  'set-tracking-uri': setTrackingUri,
  'reinstall-hook-runtime': reinstallRuntime,
  'rewrite-hook-command': rewriteHookCommand,
  'reinstall-mlflow': reinstallMlflow,
  'move-port': movePort,
  'start-server': startServer,
  'flush-spool': flush,
};

export async function applyFix(id: FixId, fx: FixEnvironment): Promise<FixOutcome> {
  try {
    return { id, status: 'applied', message: await APPLY[id](fx) };
  } catch (error) {
    return { id, status: 'failed', message: `${FIX_DESCRIPTIONS[id]}: failed: ${(error as Error).message}` };
  }
}
