#!/usr/bin/env node
/**
 * P3: `cleanup --older-than 30d` on a generated database, side by side with
 *   (a) the way the MLflow UI deletes: list the trace ids, then REST
 *       `delete-traces` calls of 100 ids each;
 *   (b) one raw SQL `DELETE ... ` with ON DELETE CASCADE on a copy of the
 *       file: the physical limit (bench only; the cleanup never does this).
 * Each contender gets its own copy of the same database; (a) and ours run
 * against the same kind of server (`mlflow server` started by our background
 * manager, as `init` leaves it).
 *
 * The database: `--traces N` realistic traces (the trace our hook builds from
 * a Claude Code transcript, 5 spans each), half of them older than 30 days,
 * sent through MLflow's OTLP ingest (bench/gen-traces.mjs). 100,000 takes
 * ~12 minutes to generate; `--db FILE` keeps it (and reuses it next time).
 *
 * Usage (needs `npm run build` and the test venv):
 *   node bench/cleanup.mjs [--traces 100000] [--db /tmp/p3-100k.db] [--runs 1] [--keep]
 * With --runs N, the deletion-only contenders run N times (each on a fresh
 * copy) and the medians are compared.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { baseDatabase, census, copy, localServer, runOurs } from './cleanup-lib.mjs';
import { median, tempDir, venvBin } from './lib.mjs';

const DAY = 86_400_000;
const argv = process.argv.slice(2);
const arg = (/** @type {string} */ name, /** @type {string | undefined} */ fallback = undefined) =>
  argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback;
const traces = Number(arg('--traces', '100000'));
const saved = arg('--db');
const keep = argv.includes('--keep');
const runs = Math.max(1, Number(arg('--runs', '1')));
const work = tempDir('claude-mlflow-p3-');
const mb = (/** @type {number} */ bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
const s = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;
/**
 * @param {string} url
 * @param {unknown} body
 * @returns {Promise<any>} MLflow's answer
 */
async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * The UI's way: the ids of the traces to delete (listed 500 at a time, the server's maximum), then 100 ids per delete call.
 * @param {string} url
 * @param {string} experimentId
 * @param {number} cutoffMs
 */
async function chunked(url, experimentId, cutoffMs) {
  const started = performance.now();
  const ids = [];
  let token;
  do {
    const page = await post(`${url}/api/3.0/mlflow/traces/search`, {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } }],
      filter: `trace.timestamp_ms < ${cutoffMs}`,
      max_results: 500,
      ...(token ? { page_token: token } : {}),
    });
    for (const t of page.traces ?? []) ids.push(t.trace_id);
    token = page.next_page_token;
  } while (token);
  const listed = performance.now();
  let deleted = 0;
  for (let i = 0; i < ids.length; i += 100) {
    deleted += (
      await post(`${url}/api/2.0/mlflow/traces/delete-traces`, { experiment_id: experimentId, request_ids: ids.slice(i, i + 100) })
    ).traces_deleted;
  }
  const done = performance.now();
  return { ms: done - started, listMs: listed - started, deleteMs: done - listed, deleted };
}

/**
 * The physical limit: one DELETE with cascade, in one transaction, on a copy (bench only).
 * @param {string} db
 * @param {number} cutoffMs
 * @returns {{ ms: number, deleted: number }}
 */
function rawSql(db, cutoffMs) {
  const code = `
import json, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA foreign_keys = ON")
t = time.perf_counter()
c.execute("BEGIN")
n = c.execute("DELETE FROM trace_info WHERE timestamp_ms < ?", (int(sys.argv[2]),)).rowcount
c.execute("COMMIT")
print(json.dumps({"ms": (time.perf_counter() - t) * 1000, "deleted": n}))`;
  return JSON.parse(execFileSync(venvBin('python'), ['-c', code, db, String(cutoffMs)], { encoding: 'utf8' }));
}

try {
  const base = await baseDatabase(work, { traces, saved });
  const before = census(base);
  const size = statSync(base).size;
  const cutoffMs = Date.now() - 30 * DAY;

  // Ours, the full default run: plan, backup, delete, VACUUM with the server paused.
  const full = await localServer('ours-full', base, work);
  const ours = await runOurs(full.data, { olderThan: '30d', experiment: ['bench'], yes: true, json: true });
  await full.stop();
  const afterOurs = census(full.db);

  // Ours, deletion only (no backup, no VACUUM): the same work as the other two.
  // Then (a) the UI's way, and (b) raw SQL on a copy; each `runs` times on fresh copies.
  const leans = [];
  const uis = [];
  const raws = [];
  // What each contender left, from its last run (every run sets them: runs >= 1).
  let afterLean = before;
  let afterUi = before;
  let afterRaw = before;
  for (let i = 0; i < runs; i++) {
    const leanServer = await localServer(`ours-lean-${i}`, base, work);
    leans.push(
      await runOurs(leanServer.data, { olderThan: '30d', experiment: ['bench'], yes: true, json: true, backup: false, vacuum: false }),
    );
    await leanServer.stop();
    afterLean = census(leanServer.db);
    rmSync(leanServer.data, { recursive: true, force: true });

    const ui = await localServer(`ui-${i}`, base, work);
    const experimentId = /** @type {any} */ (
      await (await fetch(`${ui.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench`)).json()
    ).experiment.experiment_id;
    uis.push(await chunked(ui.url, experimentId, cutoffMs));
    await ui.stop();
    afterUi = census(ui.db);
    rmSync(ui.data, { recursive: true, force: true });

    const rawDb = path.join(work, `raw-${i}.db`);
    copy(base, rawDb);
    raws.push(rawSql(rawDb, cutoffMs));
    afterRaw = census(rawDb);
    rmSync(rawDb, { force: true });
  }
  const lean = { ms: median(leans.map((r) => r.ms)), rssMb: Math.max(...leans.map((r) => r.rssMb)), report: leans[0].report };
  const chunks = {
    ms: median(uis.map((r) => r.ms)),
    listMs: median(uis.map((r) => r.listMs)),
    deleteMs: median(uis.map((r) => r.deleteMs)),
  };
  const raw = { ms: median(raws.map((r) => r.ms)) };

  const p = ours.report;
  console.log(
    `P3 cleanup --older-than 30d${runs > 1 ? ` (median of ${runs} runs)` : ''}: ${before.traces.toLocaleString('en-US')} traces (${before.spans.toLocaleString('en-US')} spans, ${mb(size)}), ${before.older.toLocaleString('en-US')} older than 30 days`,
  );
  console.log(
    `   ours, full run (plan, backup, delete, VACUUM with the server paused): ${s(ours.ms)}   database ${mb(p.bytesBefore)} -> ${mb(p.bytesAfter)}, vacuum ${p.vacuum}`,
  );
  console.log(
    `   ours, --no-backup --no-vacuum:                                        ${s(lean.ms)}   deleted ${lean.report.deleted.toLocaleString('en-US')}`,
  );
  console.log(
    `   (a) MLflow UI way, ids listed then 100 per delete-traces call:       ${s(chunks.ms)}   (list ${s(chunks.listMs)}, delete ${s(chunks.deleteMs)})`,
  );
  console.log(`   (b) one raw SQL DELETE with cascade on a copy (physical limit):       ${s(raw.ms)}`);
  console.log(
    `   ratio (a)/ours ${(chunks.ms / lean.ms).toFixed(1)}x faster (delete calls alone: ${(chunks.deleteMs / lean.ms).toFixed(1)}x)   goal: >=5x`,
  );
  console.log(`   ratio ours/(b) ${(lean.ms / raw.ms).toFixed(1)}x (full run ${(ours.ms / raw.ms).toFixed(1)}x)   goal: <=3x`);
  console.log(
    `   load average during the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other processes on this machine skew the figures)`,
  );
  console.log(`   peak RSS of our process: ${Math.max(ours.rssMb, lean.rssMb).toFixed(0)} MB   goal: <=150 MB`);
  const lefts = [afterOurs, afterLean, afterUi, afterRaw].map((c) => c.traces);
  console.log(
    `   left afterwards: ours ${lefts[0]}, ours-lean ${lefts[1]}, UI way ${lefts[2]}, raw SQL ${lefts[3]} traces; spans left ${afterOurs.spans}/${afterRaw.spans}`,
  );
  if (new Set(lefts).size !== 1 || afterOurs.spans !== afterRaw.spans) {
    console.log('   WARNING: the contenders did not leave the same traces');
    process.exitCode = 1;
  }
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`   kept ${work}`);
}
