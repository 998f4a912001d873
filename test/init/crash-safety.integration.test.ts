/**
 * Crash safety, step by step: `init`, `disable`, `enable` and `uninstall`
 * are SIGKILLed just before their k-th file operation that changes the disk
 * (test/helpers/kill-at-file-op.cjs), for every k. After each kill, running
 * the same command again and then `uninstall` gives back the user's
 * settings byte for byte, and leaves no lock or temp file behind.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { repoRoot } from '../helpers/venv.js';

const KILLER = path.join(repoRoot, 'test', 'helpers', 'kill-at-file-op.cjs');
/** More file operations than any of these commands makes: the loop ends before, when a run is not killed. */
const MOST_OPS = 200;

const ORIGINAL = `{
  "model": "opus",
  "cleanupPeriodDays": 1e400,
  "env": { "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000", "MLFLOW_EXPERIMENT_ID": "42" },
  "hooks": {
    "SubagentStop": []
  }
}
`;

let tmp: TempDir;
let remote: MlflowServer;
let n = 0;

beforeAll(async () => {
  tmp = await makeTempDir();
  remote = await startMlflowServer();
});
afterAll(async () => {
  await remote?.stop();
  await tmp?.cleanup();
});

interface Case {
  home: string;
  data: string;
  project: string;
  file: string;
}

function freshCase(): Case {
  n += 1;
  const root = path.join(tmp.path, `case-${n}`);
  const c = {
    home: path.join(root, 'home'),
    data: path.join(root, 'data'),
    project: path.join(root, 'app'),
    file: path.join(root, 'app', '.claude', 'settings.json'),
  };
  mkdirSync(c.home, { recursive: true });
  mkdirSync(path.dirname(c.file), { recursive: true });
  writeFileSync(c.file, ORIGINAL);
  return c;
}

function run(args: string[], c: Case, killAt?: number): Promise<CliRun> {
  const env: Record<string, string> = killAt ? { NODE_OPTIONS: `--require ${KILLER}`, CLAUDE_MLFLOW_TEST_KILL_AT: String(killAt) } : {};
  return runCli(args, { home: c.home, data: c.data, cwd: c.project, env });
}

const init = (c: Case) => ['init', '--yes', '--project', c.project, '--tracking-uri', remote.url, '--experiment', 'crash'];
const uninstall = (c: Case) => ['uninstall', '--project', c.project];

/** Files that no run may leave in the user's settings folder: locks and half-written temp files. */
function litter(c: Case): string[] {
  return readdirSync(path.dirname(c.file)).filter((f) => f.endsWith('.lock') || f.endsWith('.tmp') || f.endsWith('.break'));
}

interface Scenario {
  name: string;
  /** What runs before the command, uninterrupted. */
  before: (c: Case) => string[][];
  command: (c: Case) => string[];
}

const scenarios: Scenario[] = [
  { name: 'init', before: () => [], command: init },
  { name: 'disable', before: (c) => [init(c)], command: (c) => ['disable', '--project', c.project] },
  { name: 'enable', before: (c) => [init(c), ['disable', '--project', c.project]], command: (c) => ['enable', '--project', c.project] },
  { name: 'uninstall', before: (c) => [init(c)], command: uninstall },
];

describe('SIGKILL before every file operation', () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: the same command again, then uninstall, gives back the file byte for byte`, async () => {
      let kills = 0;
      for (let k = 1; k <= MOST_OPS; k++) {
        const c = freshCase();
        for (const args of scenario.before(c)) expect((await run(args, c)).exitCode, args.join(' ')).toBe(0);
        const killed = await run(scenario.command(c), c, k);
        if (killed.exitCode === 0) break; // fewer than k operations: every step was covered
        expect(killed.exitCode, `k=${k}: ${killed.stderr}`).toBe(-1);
        kills += 1;
        const again = await run(scenario.command(c), c);
        expect(again.exitCode, `k=${k}, again: ${again.stderr}${again.stdout}`).toBe(0);
        const un = await run(uninstall(c), c);
        expect(un.exitCode, `k=${k}, uninstall: ${un.stderr}${un.stdout}`).toBe(0);
        expect(readFileSync(c.file, 'utf8'), `k=${k}`).toBe(ORIGINAL);
        expect(litter(c), `k=${k}`).toEqual([]);
      }
      expect(kills).toBeGreaterThan(0);
      expect(kills).toBeLessThan(MOST_OPS);
      console.log(`${scenario.name}: killed at each of its ${kills} file operations`);
    });
  }
});
