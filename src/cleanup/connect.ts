/**
 * Where a cleanup works: MLflow's server, or, when it is down, the backend
 * store through MLflow's Python client; and the experiments to clean, from
 * the command line or the project's settings.
 */
import { existsSync } from 'node:fs';
import { isDatabricksUri } from '../core/databricks.js';
import { CliError, EXIT } from '../errors.js';
import { PythonBackend, RestBackend, type ExperimentRef, type TraceBackend } from '../services/trace-backend.js';
import type { CleanupOptions } from './run-cleanup.js';
import type { CleanupTarget, SettingsExperiment } from './target.js';

/** The server when it answers; else the backend store through MLflow's Python client, when we know it. */
export async function openBackend(target: CleanupTarget, env: NodeJS.ProcessEnv): Promise<TraceBackend> {
  const uri = target.trackingUri;
  if (/^https?:\/\//.test(uri) || isDatabricksUri(uri)) {
    let rest: RestBackend;
    try {
      rest = new RestBackend(uri, env);
    } catch (error) {
      throw new CliError((error as Error).message, EXIT.usage);
    }
    if (await rest.reachable()) return rest;
    // down: try the backend store below
  }
  if (target.backendStoreUri && target.python) {
    if (target.database && !existsSync(target.database)) {
      throw new CliError(`there is no MLflow database at ${target.database}: nothing to clean up.`, EXIT.failure);
    }
    return PythonBackend.start(target.python, target.backendStoreUri, env);
  }
  throw new CliError(
    `the MLflow server at ${uri} does not answer, and there is no local database to open instead. ` +
      'Start the server (`claude-mlflow server start`) and try again.',
    EXIT.failure,
  );
}

async function resolveRef(backend: TraceBackend, ref: string): Promise<ExperimentRef | undefined> {
  if (/^\d+$/.test(ref)) {
    const byId = await backend.getExperiment(ref);
    if (byId) return byId;
  }
  return backend.getExperimentByName(ref);
}

/** The experiments to clean, each once: all of them, the ones --experiment names, or the one the project's settings name. */
export async function resolveExperiments(
  backend: TraceBackend,
  options: CleanupOptions,
  settings: SettingsExperiment,
): Promise<ExperimentRef[]> {
  let found: ExperimentRef[];
  if (options.allExperiments) {
    found = await backend.listExperiments();
  } else if (options.experiments && options.experiments.length > 0) {
    found = await experimentsNamed(backend, options.experiments);
  } else {
    found = [await experimentOfSettings(backend, settings)];
  }
  const seen = new Set<string>();
  return found.filter((e) => {
    if (seen.has(e.id)) return false;
    seen.add(e.id);
    return true;
  });
}

/** --experiment NAME|ID, repeated: every one must exist. */
async function experimentsNamed(backend: TraceBackend, refs: string[]): Promise<ExperimentRef[]> {
  const found: ExperimentRef[] = [];
  for (const raw of refs) {
    const ref = raw.trim();
    if (!ref) throw new CliError('--experiment needs a name or an id', EXIT.usage);
    const experiment = await resolveRef(backend, ref);
    if (!experiment) throw new CliError(`no experiment named or numbered "${ref}" on ${backend.where}; nothing was deleted.`, EXIT.usage);
    found.push(experiment);
  }
  return found;
}

/** The experiment the project's Claude Code settings trace into. */
async function experimentOfSettings(backend: TraceBackend, settings: SettingsExperiment): Promise<ExperimentRef> {
  const wanted = settings.experiment;
  if (!wanted) {
    const skipped = settings.skipped.length ? ` (skipped: ${settings.skipped.join('; ')})` : '';
    throw new CliError(
      'no experiment to clean: the Claude Code settings of this project (.claude/settings.local.json, .claude/settings.json, ' +
        `~/.claude/settings.json) set neither env.MLFLOW_EXPERIMENT_NAME nor env.MLFLOW_EXPERIMENT_ID${skipped}. ` +
        'Pass --experiment NAME|ID or --all-experiments.',
      EXIT.usage,
    );
  }
  const experiment = 'id' in wanted ? await backend.getExperiment(wanted.id) : await backend.getExperimentByName(wanted.name);
  if (!experiment) {
    const what = 'id' in wanted ? `id ${wanted.id}` : `"${wanted.name}"`;
    throw new CliError(
      `the experiment ${what} named in ${settings.file} does not exist on ${backend.where}; nothing was deleted.`,
      EXIT.usage,
    );
  }
  return experiment;
}
