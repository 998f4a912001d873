/**
 * The copy itself, in the MLflow environment's own Python: SQLAlchemy and
 * MLflow's schema tooling (`mlflow.store.db.utils`), the same code the
 * server runs on.
 *
 * - `inspect`: the source's schema revision, its row count per table and its
 *   traces per experiment; the target's state: `empty` (no tables),
 *   `fresh` (MLflow's schema with only what a new server writes: the Default
 *   experiment and the default workspace), `has-data` or `other-tables`.
 * - `copy`: the target's schema from MLflow itself (`_initialize_tables`:
 *   `create_all` then alembic up to the head), then every table in foreign-key
 *   order, streamed in batches, in ONE PostgreSQL transaction. Generated
 *   columns are left to PostgreSQL, SQLite's 0/1 booleans become booleans, and
 *   the serial sequences (experiment ids) are moved past the copied ids. Row
 *   counts per table and trace counts per experiment are compared inside the
 *   transaction: a difference, or any error, rolls everything back.
 *
 * Both databases must be at the installed MLflow's schema head, so the two
 * schemas are the same by construction. The SQLite file is opened read-only, by an SQLite
 * URI built in Python (`file:<percent-encoded path>?mode=ro`): never created, never written.
 * The target URI (with its password) comes in on stdin, never on the command
 * line, as one line; stdin then stays open, and the worker exits at once when
 * it closes (migrate was killed), before it can commit a copy nobody waits for; errors carry the driver's first line only, never the statement or its
 * parameters (trace data).
 *
 * Output: one JSON object per line: `inspect`, then `progress` per batch,
 * then `done`, or `error` with a kind and a message.
 *
 * The program is python/migrate_worker.py.
 */
import { createInterface } from 'node:readline';
import type { MigrationEvent } from '../core/migration.js';
import { startPiped } from '../adapters/process.js';
import { pythonScript } from '../adapters/python-scripts.js';

export interface WorkerRequest {
  mode: 'inspect' | 'copy';
  /** The SQLite file (opened read-only). */
  sourceFile: string;
  /** The PostgreSQL URI with its password, or null to inspect the source alone. */
  target: string | null;
  /** Seconds to wait for PostgreSQL to answer a connection. */
  timeout?: number;
  /** Rows per INSERT. */
  batch?: number;
  /** The target holds an interrupted migrate's own copy: replace it (copy mode). */
  replace?: boolean;
}

/** Run the worker; `onEvent` sees every line as it comes. Resolves with the last event (`inspect`, `done` or `error`). */
export async function runMigrationWorker(
  python: string,
  request: WorkerRequest,
  options: { env?: NodeJS.ProcessEnv; onEvent?: (event: MigrationEvent) => void; signal?: AbortSignal } = {},
): Promise<MigrationEvent> {
  const child = await startPiped(python, [pythonScript('migrate_worker')], {
    env: {
      ...(options.env ?? process.env),
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONNOUSERSITE: '1',
      PYTHONUNBUFFERED: '1',
      PYTHONIOENCODING: 'utf-8',
    },
    // Out of the terminal's process group: Ctrl-C reaches us, and we stop the worker (so that the server is started again).
    detached: true,
  });
  return new Promise((resolve) => {
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      child.kill('SIGTERM');
    };
    if (options.signal?.aborted) cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    let last: MigrationEvent | undefined;
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk.toString('utf8'));
      if (stderr.length > 200) stderr.shift();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: MigrationEvent;
      try {
        event = JSON.parse(line) as MigrationEvent;
      } catch {
        return; // a library printing to stdout
      }
      if (event.event !== 'progress') last = event;
      options.onEvent?.(event);
    });
    void child.ended.then(({ exitCode, signal, error }) => {
      options.signal?.removeEventListener('abort', cancel);
      if (error !== undefined) return resolve({ event: 'error', kind: 'start', message: `could not run ${python}: ${error}` });
      if (cancelled) return resolve({ event: 'error', kind: 'cancelled', message: 'stopped by the user' });
      if (last) return resolve(last);
      const tail = stderr.join('').trim().split('\n').pop() ?? '';
      resolve({
        event: 'error',
        kind: 'crash',
        message: `${python} exited (${signal ?? `exit ${exitCode}`}) without a result${tail ? `: ${tail.slice(0, 300)}` : ''}`,
      });
    });
    // One line, and stdin stays open: the worker exits when it closes, i.e. when this process dies.
    child.stdin.on('error', () => undefined);
    child.stdin.write(`${JSON.stringify(request)}\n`);
  });
}
