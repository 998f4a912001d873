/**
 * What MLflow's UI sees: the traces an experiment lists (search), and
 * whether each one's spans load (batchGet), over MLflow's REST API. A listed
 * trace whose spans do not load is a panel that never loads in the UI.
 */
export interface ListedTrace {
  traceId: string;
  session?: string;
  /** Spans from batchGet; 0 when they did not load. */
  spans: number;
}

async function json(url: string, init?: RequestInit): Promise<any> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  if (!res.ok)
    throw Object.assign(new Error(`${init?.method ?? 'GET'} ${url} → HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`), {
      status: res.status,
    });
  return res.json();
}

export async function experimentId(server: string, name: string): Promise<string | undefined> {
  try {
    return (await json(`${server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`)).experiment
      .experiment_id;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

/** Every trace the experiment lists, with the number of spans batchGet loads for it. */
export async function listedTraces(server: string, experiment: string): Promise<ListedTrace[]> {
  const id = await experimentId(server, experiment);
  if (id === undefined) return [];
  const found = await json(`${server}/api/3.0/mlflow/traces/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: id } }], max_results: 500 }),
  });
  const listed: ListedTrace[] = [];
  for (const info of found.traces ?? []) {
    let spans = 0;
    try {
      const got = await json(`${server}/api/3.0/mlflow/traces/batchGet?trace_ids=${encodeURIComponent(info.trace_id)}`);
      spans = got.traces?.[0]?.spans?.length ?? 0;
    } catch {
      spans = 0;
    }
    listed.push({ traceId: info.trace_id, session: info.trace_metadata?.['mlflow.trace.session'], spans });
  }
  return listed;
}

/**
 * Poll what the UI would show every `everyMs` until stopped, and keep every
 * listed trace that had no loadable spans at that moment.
 */
export function watchForHalfWrittenTraces(server: string, experiment: string, everyMs = 250) {
  const halfWritten: Array<{ at: number; trace: ListedTrace }> = [];
  let polls = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        for (const trace of await listedTraces(server, experiment)) if (trace.spans === 0) halfWritten.push({ at: Date.now(), trace });
        polls += 1;
      } catch {
        // the server is down or restarting: nothing is listed then
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    halfWritten,
    get polls() {
      return polls;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
