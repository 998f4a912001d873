#!/usr/bin/env node
/**
 * The idle local server: how many processes and how much memory the whole
 * `mlflow server` process tree holds 20 s after it first answers /health,
 * started as we start it against how MLflow starts it with no flags:
 *   - ours: `--workers 1` and MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false (our defaults, read from dist/);
 *   - ours with `init --server-jobs`: the same, job execution on;
 *   - MLflow's defaults: no `--workers` (uvicorn with 4 workers), job execution on.
 * `--all` adds the steps between: 2 workers with and without job execution (2 workers with it is what we
 * ran before). Exit code 1 when a page does not answer as it should.
 *
 * RSS is summed over the tree (shared pages counted once per process, as `ps` and
 * most monitors show it); PSS splits shared pages between the processes that
 * share them, so its sum is what the tree really costs.
 *
 * Then, on a server started with our defaults (and again with `--server-jobs`),
 * every page a tracing user opens must answer: the UI, the experiments list,
 * the Traces tab, a trace's detail and spans, the Sessions view, the Overview
 * charts and the Judges list. A trace is sent first, through our own OTLP
 * export (the delivery's path). Running a judge from the UI needs job
 * execution: refused without it, queued with it.
 *
 * Linux only (reads /proc). Needs `npm run build`; the MLflow to measure is
 * `--mlflow PATH` (default: the test venv's).
 * Usage: node bench/server-idle.mjs [--mlflow PATH] [--settle-seconds N] [--all] [--verbose]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, fromDist, repoRoot, tempDir, venvBin } from './lib.mjs';

const JOB_EXECUTION = 'MLFLOW_SERVER_ENABLE_JOB_EXECUTION';

// ---------------------------------------------------------------- the process tree

/** Every live process: pid, parent pid and argv, from /proc. */
function processTable() {
  const table = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      table.push({ pid: Number(entry), ppid: Number(fields[1]), argv });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/**
 * `root` and every process below it.
 * @param {number} root
 */
function processTree(root) {
  const table = processTable();
  const tree = table.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...table.filter((p) => p.ppid === tree[i].pid));
  return tree;
}

/**
 * A `kB` field of a /proc file (VmRSS of status, Pss of smaps_rollup), in MB; 0 when the process is gone.
 * @param {string} file
 * @param {string} field
 */
function procMb(file, field) {
  try {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/**
 * What a process of the tree is, in a few words.
 * @param {string[]} argv
 */
function roleOf(argv) {
  const text = argv.join(' ');
  if (text.includes('huey_consumer')) return 'huey consumer (job execution)';
  if (text.includes('mlflow.server.jobs')) return 'job runner (job execution)';
  if (text.includes('multiprocessing.resource_tracker')) return 'resource tracker';
  if (text.includes('multiprocessing') || text.includes('spawn_main')) return 'uvicorn worker';
  if (text.includes('uvicorn')) return 'uvicorn';
  if (text.includes('mlflow server')) return 'mlflow server (CLI)';
  return path.basename(argv[0] ?? '?');
}

/** @param {number} root */
function measureTree(root) {
  const tree = processTree(root);
  const roles = new Map();
  for (const p of tree) roles.set(roleOf(p.argv), (roles.get(roleOf(p.argv)) ?? 0) + 1);
  return {
    processes: tree.length,
    rssMb: tree.reduce((sum, p) => sum + procMb(`/proc/${p.pid}/status`, 'VmRSS'), 0),
    pssMb: tree.reduce((sum, p) => sum + procMb(`/proc/${p.pid}/smaps_rollup`, 'Pss'), 0),
    roles: Object.fromEntries(roles),
  };
}

// ---------------------------------------------------------------- one server

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {string} url
 * @param {import('node:child_process').ChildProcess} child
 */
async function waitForHealth(url, child, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mlflow server exited (${child.exitCode}) before /health answered`);
    try {
      if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`mlflow server did not answer ${url}/health within ${timeoutMs / 1000} s`);
}

/**
 * The folder MLflow made for its job queues (`_MLFLOW_HUEY_STORAGE_PATH`, a
 * temporary folder in /dev/shm, in memory), from the environment of the
 * server's processes. MLflow never removes it: we do, after the server stops.
 * @param {number} root
 */
function jobQueueFolder(root) {
  for (const { pid } of processTree(root)) {
    try {
      const variable = readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .find((v) => v.startsWith('_MLFLOW_HUEY_STORAGE_PATH='));
      if (variable) return variable.slice(variable.indexOf('=') + 1);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * SIGTERM the server's process group, SIGKILL whatever is left after 15 s.
 * @param {number} pid
 */
async function stopGroup(pid) {
  const alive = () => processTree(pid).length > 0;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 150 && alive(); i++) await sleep(100);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // all gone
  }
}

/**
 * Start `mlflow server` on a fresh SQLite database, in its own process group,
 * with `--workers N` when `workers` is given (else MLflow's default) and job
 * execution set as `jobs` says (undefined: MLflow's default, whatever this
 * shell's environment says). `whileServing(url)` runs once it answers /health.
 * @template T
 * @param {{ mlflowBin: string, workers?: number, jobs?: boolean }} server
 * @param {(url: string, started: { pid: number, startMs: number }) => Promise<T>} whileServing
 * @returns {Promise<T>}
 */
export async function withServer({ mlflowBin, workers, jobs }, whileServing) {
  const dir = tempDir('claude-mlflow-bench-idle-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' };
  delete env[JOB_EXECUTION];
  if (jobs !== undefined) env[JOB_EXECUTION] = String(jobs);
  const args = [
    'server',
    '--backend-store-uri',
    `sqlite:///${path.join(dir, 'mlflow.db')}`,
    '--artifacts-destination',
    path.join(dir, 'artifacts'),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    ...(workers === undefined ? [] : ['--workers', String(workers)]),
  ];
  const child = spawn(mlflowBin, args, { detached: true, stdio: 'ignore', env, cwd: dir });
  const pid = /** @type {number} */ (child.pid);
  let queues;
  try {
    const t0 = performance.now();
    await waitForHealth(url, child);
    const startMs = performance.now() - t0;
    queues = jobQueueFolder(pid);
    return await whileServing(url, { pid, startMs });
  } finally {
    await stopGroup(pid);
    rmSync(dir, { recursive: true, force: true });
    if (queues) rmSync(queues, { recursive: true, force: true });
  }
}

/**
 * The whole tree of an idle `mlflow server`, `settleMs` (default 20 s) after
 * it first answers /health: processes, summed RSS and PSS (MB), how many
 * processes of each kind, and the time to /health.
 * @param {{ mlflowBin: string, workers?: number, jobs?: boolean, settleMs?: number }} server
 */
export function measureIdleServer({ mlflowBin, workers, jobs, settleMs = 20_000 }) {
  return withServer({ mlflowBin, workers, jobs }, async (_url, { pid, startMs }) => {
    await sleep(settleMs);
    return { ...measureTree(pid), startMs };
  });
}

// ---------------------------------------------------------------- the pages a tracing user opens

/**
 * @param {string} url
 * @param {string} pathAndQuery
 * @param {unknown} [body]
 * @returns {Promise<{ status: number, text: string, json: any }>}
 */
async function call(url, pathAndQuery, body) {
  const res = await fetch(`${url}${pathAndQuery}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/**
 * One trace of the multi-tool fixture (an AGENT root, two llm and two tool
 * spans), sent as our delivery sends it: the spans over OTLP, then the
 * metadata (StartTraceV3).
 * @param {string} url
 * @param {string} experimentId
 * @param {string} sessionId
 */
async function sendTrace(url, experimentId, sessionId) {
  /** @type {typeof import('../src/core/transcript.js')} */
  const { traceFromRows } = await fromDist('core/transcript.js');
  /** @type {typeof import('../src/adapters/otlp.js')} */
  const { exportTrace } = await fromDist('adapters/otlp.js');
  /** @type {typeof import('../src/adapters/mlflow.js')} */
  const { MlflowClient } = await fromDist('adapters/mlflow.js');
  const rows = readFileSync(path.join(repoRoot, 'test', 'fixtures', 'transcripts', 'multi-tool', 'transcript.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  const trace = /** @type {import('../src/core/trace-model.js').TraceModel} */ (
    traceFromRows(rows, { sessionId, cwd: '/tmp/project', user: 'bench' })
  );
  await exportTrace(trace, { trackingUri: url, experimentId, timeoutMs: 30_000 });
  await new MlflowClient({ trackingUri: url, env: {} }).startTrace(experimentId, trace, 30_000);
  return { traceId: `tr-${trace.traceId}`, spans: trace.spans.length, startMs: trace.startMs };
}

/** An LLM judge, serialized as MLflow serializes `make_judge(...)` (its SerializedScorer; the other fields have defaults). */
const JUDGE = JSON.stringify({
  name: 'quality',
  instructions_judge_pydantic_data: {
    instructions: 'Is the response in {{ outputs }} helpful?',
    model: 'openai:/gpt-4o-mini',
    feedback_value_type: { title: 'Result', type: 'boolean' },
  },
});

/**
 * The first script the UI's page loads, as a path.
 * @param {string} html
 */
function firstScript(html) {
  const src = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
  return src === undefined ? undefined : `/${src.replace(/^(\.?\/)+/, '')}`;
}

/**
 * What the MLflow UI requests on the pages a tracing user opens (the paths
 * and bodies its bundle sends), each with whether the answer is right; and
 * running a judge from the UI, which needs job execution: accepted when
 * `jobs` is on, refused when it is off.
 * @param {string} url
 * @param {{ jobs: boolean }} options
 */
export async function tracingPages(url, { jobs }) {
  const sessionId = `bench-idle-${Date.now()}`;
  const created = await call(url, '/ajax-api/2.0/mlflow/experiments/create', { name: sessionId });
  const experimentId = created.json?.experiment_id;
  if (!experimentId) throw new Error(`could not create an experiment: HTTP ${created.status} ${created.text.slice(0, 200)}`);
  const sent = await sendTrace(url, experimentId, sessionId);
  const locations = [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } }];
  const day = 86_400_000;
  const ui = await call(url, '/');
  /** @typedef {Awaited<ReturnType<typeof call>>} Answer */
  /** @type {[string, () => Promise<Answer>, (r: Answer) => unknown][]} */
  const checks = [
    ['UI (GET /)', async () => ui, (r) => r.status === 200 && /<html/i.test(r.text)],
    ['UI script', () => call(url, firstScript(ui.text) ?? '/no-script-in-the-page'), (r) => r.status === 200 && r.text.length > 1000],
    [
      'Experiments list',
      () => call(url, '/ajax-api/2.0/mlflow/experiments/search', { max_results: 25, view_type: 'ACTIVE_ONLY' }),
      (r) => r.json?.experiments?.some((/** @type {any} */ e) => e.experiment_id === experimentId),
    ],
    [
      'Experiment page',
      () => call(url, `/ajax-api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`),
      (r) => r.json?.experiment?.experiment_id === experimentId,
    ],
    [
      'Traces tab (search)',
      () => call(url, '/ajax-api/3.0/mlflow/traces/search', { locations, max_results: 100 }),
      (r) => r.json?.traces?.some((/** @type {any} */ t) => t.trace_id === sent.traceId),
    ],
    [
      'Trace detail (get)',
      () => call(url, `/ajax-api/3.0/mlflow/traces/get?trace_id=${sent.traceId}&allow_partial=true`),
      (r) => r.json?.trace?.spans?.length === sent.spans,
    ],
    [
      'Trace spans (batchGet)',
      () => call(url, `/ajax-api/3.0/mlflow/traces/batchGet?trace_ids=${sent.traceId}`),
      (r) => r.json?.traces?.[0]?.spans?.length === sent.spans,
    ],
    [
      'Sessions view (search by session)',
      () =>
        call(url, '/ajax-api/3.0/mlflow/traces/search', {
          locations,
          filter: `request_metadata.mlflow.trace.session = '${sessionId}'`,
          max_results: 100,
        }),
      (r) => r.json?.traces?.length === 1,
    ],
    [
      'Overview charts (trace metrics)',
      () =>
        call(url, '/ajax-api/3.0/mlflow/traces/metrics', {
          experiment_ids: [experimentId],
          view_type: 'TRACES',
          metric_name: 'trace_count',
          aggregations: [{ aggregation_type: 'COUNT' }],
          time_interval_seconds: 3600,
          start_time_ms: sent.startMs - day,
          end_time_ms: sent.startMs + day,
        }),
      (r) => r.json?.data_points?.length > 0,
    ],
    ['Judges list', () => call(url, `/ajax-api/3.0/mlflow/scorers/list?experiment_id=${experimentId}`), (r) => r.status === 200],
  ];
  /** @type {{ page: string, status: number, ok: boolean, answer?: string }[]} */
  const results = [];
  for (const [page, request, right] of checks) {
    const r = await request();
    results.push({ page, status: r.status, ok: Boolean(right(r)), ...(right(r) ? {} : { answer: r.text.slice(0, 200) }) });
  }
  // Running a judge from the UI queues an MLflow job (which then fails here: no OpenAI key).
  const judge = await call(url, '/ajax-api/3.0/mlflow/scorer/invoke', {
    experiment_id: experimentId,
    serialized_scorer: JUDGE,
    trace_ids: [sent.traceId],
  });
  results.push({
    page: `Run a judge on a trace (scorer/invoke): ${jobs ? 'queued' : 'refused'}`,
    status: judge.status,
    ok: jobs ? judge.status === 200 && judge.json?.jobs?.length > 0 : judge.status >= 400 && /job execution/i.test(judge.text),
    answer: judge.text.slice(0, 200),
  });
  return results;
}

// ---------------------------------------------------------------- main

async function main() {
  const args = process.argv.slice(2);
  const option = (/** @type {string} */ name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const mlflowBin = option('--mlflow') ?? venvBin('mlflow');
  const settleMs = Number(option('--settle-seconds') ?? 20) * 1000;
  const verbose = args.includes('--verbose');
  // Our defaults, as the built CLI starts the server.
  /** @type {typeof import('../src/adapters/service/background.js')} */
  const { SERVER_WORKERS } = await fromDist('adapters/service/background.js');

  const version = await new Promise((resolve) => {
    const child = spawn(mlflowBin, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => resolve(out.trim().split(/\s+/).pop()));
  });
  console.log(`Idle mlflow server ${version}, ${settleMs / 1000} s after /health, whole process tree:`);

  const configs = [
    { name: 'ours (default)', workers: SERVER_WORKERS, jobs: false },
    { name: 'ours, --server-jobs', workers: SERVER_WORKERS, jobs: true },
    ...(args.includes('--all')
      ? [
          { name: '2 workers, jobs off', workers: 2, jobs: false },
          { name: '2 workers, jobs on (ours before)', workers: 2, jobs: true },
        ]
      : []),
    { name: "MLflow's defaults (no flags)", workers: undefined, jobs: undefined },
  ];
  const rows = [];
  for (const config of configs) {
    const m = await measureIdleServer({ mlflowBin, workers: config.workers, jobs: config.jobs, settleMs });
    rows.push({ ...config, ...m });
    if (verbose) console.log(`   ${config.name}: ${JSON.stringify(m.roles)}`);
  }
  const reference = rows.at(-1);
  const head = ['server', 'workers', 'job execution', 'processes', 'RSS MB', 'PSS MB', 'to /health', 'RSS vs MLflow'];
  const table = rows.map((r) => [
    r.name,
    r.workers === undefined ? '4 (default)' : String(r.workers),
    r.jobs === undefined ? 'on (default)' : r.jobs ? 'on' : 'off',
    String(r.processes),
    r.rssMb.toFixed(0),
    r.pssMb.toFixed(0),
    `${(r.startMs / 1000).toFixed(1)} s`,
    r === reference ? '1' : `${(reference.rssMb / r.rssMb).toFixed(1)}x less`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  for (const row of [head, widths.map((w) => '-'.repeat(w)), ...table])
    console.log(`   ${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}`);
  const ours = rows[0];
  console.log(`   goal: ours <= 500 MB RSS idle — ${ours.rssMb <= 500 ? 'met' : 'NOT met'} (${ours.rssMb.toFixed(0)} MB)`);

  for (const jobs of [false, true]) {
    console.log(`Pages a tracing user opens, on a server with our defaults${jobs ? ' and --server-jobs' : ''}:`);
    const pages = await withServer({ mlflowBin, workers: SERVER_WORKERS, jobs }, (url) => tracingPages(url, { jobs }));
    for (const p of pages)
      console.log(`   ${p.ok ? '✓' : '✗'} ${p.page}: HTTP ${p.status}${p.answer && (verbose || !p.ok) ? ` ${p.answer}` : ''}`);
    if (pages.some((p) => !p.ok)) process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
