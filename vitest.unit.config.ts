/**
 * `npm run test:unit`: the tests of pure code and of the file system, about
 * 20 s of CPU, with nothing built (no dist/) and no venv: no MLflow, no
 * Python, no PostgreSQL, no Claude Code CLI. `npm test` runs these and all the others.
 *
 * The selection is explicit, and test/unit-selection.test.ts keeps it honest:
 * every entry exists, and no selected test reaches a helper that starts a
 * process, the build or a venv.
 */
import { defineConfig } from 'vitest/config';

/** A folder (ending in `/`: every test under it) or one test file. */
export const UNIT_TESTS = [
  'test/core/',
  'test/architecture.test.ts',
  'test/unit-selection.test.ts',
  'test/adapters/experiment-cache.test.ts',
  'test/adapters/file-lock.test.ts',
  'test/adapters/git-context.test.ts',
  'test/adapters/linux-proc.test.ts',
  'test/adapters/package-info.test.ts',
  'test/adapters/ports.test.ts',
  'test/adapters/spool.test.ts',
  'test/adapters/start-failure-cause.test.ts',
  'test/adapters/terminal.test.ts',
  'test/adapters/service/common.test.ts',
  'test/adapters/service/detect.test.ts',
  'test/adapters/service/schtasks.test.ts',
  'test/cleanup/own-files.test.ts',
  'test/cleanup/plan.test.ts',
  'test/cleanup/schedule-args.test.ts',
  'test/cleanup/target.test.ts',
  'test/commands/',
  'test/hook/run-flush.test.ts',
  'test/hook/session-end.test.ts',
  'test/init/options.test.ts',
  'test/server/server-settings.test.ts',
  'test/services/local-server.test.ts',
  'test/services/turn-trace.test.ts',
  'test/services/delivery/pending.test.ts',
  'test/status/render.test.ts',
];

/** Inside a selected folder, but not unit tests. */
export const NOT_UNIT_TESTS = [
  // Our cost against MLflow's own, computed by the default MLflow in .venv-default.
  'test/core/cost-differential.test.ts',
];

/** Selected tests that start processes themselves, and which: none needs the build or a venv. */
export const UNIT_TESTS_STARTING_PROCESSES: Record<string, string> = {
  'test/core/shell-quote.test.ts': '/bin/sh, to read back what it quoted',
  'test/adapters/file-lock.test.ts': 'node, a lock holder that stays alive',
  'test/adapters/git-context.test.ts': 'git, in a temporary repository',
  'test/adapters/ports.test.ts': 'node, a listener on a port',
};

export default defineConfig({
  test: {
    include: UNIT_TESTS.map((entry) => (entry.endsWith('/') ? `${entry}**/*.test.ts` : entry)),
    exclude: NOT_UNIT_TESTS,
    // Stops detached delivery processes a test left retrying (as in vitest.config.ts).
    globalSetup: ['test/global-teardown.ts'],
    testTimeout: 30_000,
    // Worker threads start faster than the default child processes; no unit test changes
    // the working directory or the umask, which threads share.
    pool: 'threads',
  },
});
