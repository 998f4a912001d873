/**
 * python/trace_worker.py on its own, against a real mlflow.db with three
 * traces (made by MLflow itself), with each MLflow the tests install (the
 * test venv's and the default's): its first answer (id 0) gives MLflow's
 * version, then one JSON answer per request line, an unknown operation is a
 * failed answer (the worker goes on), and it exits when stdin closes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { defaultVenvBin, venvBin } from '../helpers/venv.js';
import { startScript } from './run-script.js';

interface Answer {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Traces at these start times (ms) in the Default experiment, written by MLflow's client. */
const STARTS = [1000, 2000, 3000];
const SEED = `
import sys
from mlflow import MlflowClient
client = MlflowClient()
for ms in map(int, sys.argv[1:]):
    span = client.start_trace("seed", experiment_id="0", start_time_ns=ms * 1000000)
    client.end_trace(span.trace_id, end_time_ns=(ms + 5) * 1000000)
`;

/** The worker, with its answers in order. */
class Worker {
  private readonly answers: Answer[] = [];
  private readonly waiting: ((a: Answer) => void)[] = [];
  private nextId = 1;
  readonly run;

  constructor(python: string, uri: string, cwd: string) {
    this.run = startScript('trace_worker', ['sqlite:///<masked>'], { python, cwd, env: { CLAUDE_MLFLOW_BACKEND_STORE_URI: uri } });
    createInterface({ input: this.run.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as Answer;
      const waiter = this.waiting.shift();
      if (waiter) waiter(answer);
      else this.answers.push(answer);
    });
  }

  next(): Promise<Answer> {
    const ready = this.answers.shift();
    return ready ? Promise.resolve(ready) : new Promise((resolve) => this.waiting.push(resolve));
  }

  async ask(op: string, args: Record<string, unknown> = {}): Promise<Answer> {
    const id = this.nextId++;
    this.run.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    const answer = await this.next();
    expect(answer.id).toBe(id);
    return answer;
  }
}

const venvs = [
  ['the test venv', () => venvBin('python')],
  ['the default venv', () => defaultVenvBin('python')],
] as const;

interface Setup {
  tmp: TempDir;
  worker: Worker;
}

/** A seeded database and its worker, for one venv. */
async function setUp(python: string): Promise<Setup> {
  const tmp = await makeTempDir('claude-mlflow-trace-worker-');
  const uri = `sqlite:///${path.join(tmp.path, 'mlflow.db')}`;
  try {
    await execa(python, ['-c', SEED, ...STARTS.map(String)], {
      cwd: tmp.path,
      env: { MLFLOW_TRACKING_URI: uri, MLFLOW_ENABLE_ASYNC_TRACE_LOGGING: 'false', MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
    });
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
  return { tmp, worker: new Worker(python, uri, tmp.path) };
}

// Both venvs are set up at once (loading MLflow takes seconds); each suite waits for its own.
const setups = new Map<string, Promise<Setup>>();
beforeAll(() => {
  for (const [name, python] of venvs) {
    const setup = setUp(python());
    setup.catch(() => undefined); // reported by the suite that awaits it
    setups.set(name, setup);
  }
});

describe.each(venvs)('the trace worker, with %s', (name) => {
  let tmp: TempDir | undefined;
  let worker: Worker;

  beforeAll(async () => {
    ({ tmp, worker } = await setups.get(name)!);
  }, 180_000);

  afterAll(async () => {
    worker?.run.kill();
    await tmp?.cleanup();
  });

  it("answers first with MLflow's version", async () => {
    expect(await worker.next()).toEqual({ id: 0, ok: true, result: { version: expect.stringMatching(/^3\.\d+\.\d+/) } });
  });

  it('experiments: list, by id, by name', async () => {
    const defaultExperiment = { id: '0', name: 'Default', deleted: false };
    expect((await worker.ask('list_experiments')).result).toEqual([defaultExperiment]);
    expect((await worker.ask('get_experiment', { id: '0' })).result).toEqual(defaultExperiment);
    expect(await worker.ask('get_experiment', { id: '12345' })).toMatchObject({ ok: true, result: null });
    expect((await worker.ask('get_experiment_by_name', { name: 'Default' })).result).toEqual(defaultExperiment);
    expect(await worker.ask('get_experiment_by_name', { name: 'nope' })).toMatchObject({ ok: true, result: null });
  });

  it('count: all, and up to a timestamp (inclusive)', async () => {
    expect((await worker.ask('count', { experiment_ids: ['0'] })).result).toBe(3);
    expect((await worker.ask('count', { experiment_ids: ['0'], max_timestamp_ms: 2000 })).result).toBe(2);
  });

  it('search: trace ids and timestamps, page by page', async () => {
    const first = (await worker.ask('search', { experiment_id: '0', max_results: 2, order_by: ['timestamp_ms ASC'] })).result as {
      traces: { id: string; timestamp_ms: number }[];
      next: string | null;
    };
    expect(first.traces.map((t) => t.timestamp_ms)).toEqual([1000, 2000]);
    expect(first.traces.every((t) => t.id.startsWith('tr-'))).toBe(true);
    expect(first.next).toEqual(expect.any(String));
    const second = (
      await worker.ask('search', { experiment_id: '0', max_results: 2, order_by: ['timestamp_ms ASC'], page_token: first.next })
    ).result as { traces: { timestamp_ms: number }[]; next: string | null };
    expect(second).toEqual({ traces: [expect.objectContaining({ timestamp_ms: 3000 })], next: null });
    const filtered = (await worker.ask('search', { experiment_id: '0', filter: 'trace.timestamp_ms > 1500' })).result as {
      traces: unknown[];
    };
    expect(filtered.traces).toHaveLength(2);
  });

  it('delete: the oldest up to a timestamp, then by id', async () => {
    expect((await worker.ask('delete', { experiment_id: '0', max_timestamp_ms: 1500, max_traces: 10 })).result).toBe(1);
    const left = (await worker.ask('search', { experiment_id: '0', order_by: ['timestamp_ms ASC'] })).result as {
      traces: { id: string }[];
    };
    expect(left.traces).toHaveLength(2);
    expect((await worker.ask('delete', { experiment_id: '0', ids: [left.traces[0]!.id] })).result).toBe(1);
    expect((await worker.ask('count', { experiment_ids: ['0'] })).result).toBe(1);
  });

  it('an unknown operation: a failed answer, and the worker goes on', async () => {
    expect(await worker.ask('nope')).toMatchObject({ ok: false, error: "KeyError: 'nope'" });
    expect(await worker.ask('count', { experiment_ids: ['0'] })).toMatchObject({ ok: true, result: 1 });
  });

  it('exits when its stdin closes', async () => {
    worker.run.stdin!.end();
    const r = await worker.run;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(existsSync(path.join(tmp!.path, 'mlruns'))).toBe(false);
  });
});
