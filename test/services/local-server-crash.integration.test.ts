/**
 * A server that nothing names: `server start` and `init` (with a local
 * server) are SIGKILLed just before their k-th file operation that changes
 * the disk (test/helpers/kill-at-file-op.cjs), for every k. One of those kills
 * falls between starting `mlflow server` and writing its pidfile, and leaves
 * a server that no pidfile names. After each kill, the same command again
 * leaves exactly one server of the data folder, the one its pidfile names,
 * serving; `server stop` then leaves none.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { serversOfFolder } from '../helpers/server-processes.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { repoRoot, venvBin } from '../helpers/venv.js';

const KILLER = path.join(repoRoot, 'test', 'helpers', 'kill-at-file-op.cjs');
/** More file operations than either command makes: the loop ends before, when a run is not killed. */
const MOST_OPS = 200;

let tmp: TempDir;
let home: string;
let project: string;
let data: string;
let port: number;

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => runCli(args, { cwd: project, home, data, env });
const killedAt = (k: number): Record<string, string> => ({ NODE_OPTIONS: `--require ${KILLER}`, CLAUDE_MLFLOW_TEST_KILL_AT: String(k) });
const init = ['init', '--yes', '--no-service', '--mlflow', venvBin('mlflow')];
const pidOf = (): number => (JSON.parse(readFileSync(path.join(data, 'server.pid'), 'utf8')) as { pid: number }).pid;

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-server-crash-');
  home = path.join(tmp.path, 'home');
  project = path.join(tmp.path, 'app');
  data = path.join(tmp.path, 'data');
  mkdirSync(home);
  mkdirSync(project);
  port = await freePort();
});

afterAll(async () => {
  await cli(['server', 'stop']).catch(() => undefined);
  await tmp?.cleanup();
});

/** After a kill and the same command again: one server of the data folder, named by its pidfile, and serving. */
async function expectOneNamedServer(k: number): Promise<void> {
  expect(serversOfFolder(data), `k=${k}`).toEqual([pidOf()]);
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  expect(health.status, `k=${k}`).toBe(200);
}

describe('a server started just before a kill', () => {
  it('server start, killed before each of its file operations: started again, one server, the named one', async () => {
    expect((await cli([...init, '--port', String(port)])).exitCode).toBe(0);
    let kills = 0;
    for (let k = 1; k <= MOST_OPS; k++) {
      expect((await cli(['server', 'stop'])).exitCode, `k=${k}`).toBe(0);
      expect(serversOfFolder(data), `k=${k}, before`).toEqual([]);
      const killed = await cli(['server', 'start'], killedAt(k));
      if (killed.exitCode === 0) break; // fewer than k operations: every step was covered
      expect(killed.exitCode, `k=${k}: ${killed.stderr}`).toBe(-1);
      kills += 1;
      const again = await cli(['server', 'start']);
      expect(again.exitCode, `k=${k}, again: ${again.stderr}`).toBe(0);
      await expectOneNamedServer(k);
    }
    expect((await cli(['server', 'stop'])).exitCode).toBe(0);
    expect(serversOfFolder(data)).toEqual([]);
    expect(kills).toBeGreaterThan(0);
    console.log(`server start: killed at each of its ${kills} file operations`);
  }, 1_800_000);

  it('init with a local server, killed before each of its file operations: init again, one server, the named one', async () => {
    let kills = 0;
    for (let k = 1; k <= MOST_OPS; k++) {
      await cli(['server', 'stop']);
      rmSync(data, { recursive: true, force: true });
      rmSync(path.join(project, '.claude'), { recursive: true, force: true });
      expect(serversOfFolder(data), `k=${k}, before`).toEqual([]);
      const killed = await cli([...init, '--port', String(port)], killedAt(k));
      if (killed.exitCode === 0) break;
      expect(killed.exitCode, `k=${k}: ${killed.stderr}`).toBe(-1);
      kills += 1;
      const again = await cli([...init, '--port', String(port)]);
      expect(again.exitCode, `k=${k}, again: ${again.stderr}${again.stdout}`).toBe(0);
      await expectOneNamedServer(k);
    }
    expect((await cli(['server', 'stop'])).exitCode).toBe(0);
    expect(serversOfFolder(data)).toEqual([]);
    expect(kills).toBeGreaterThan(0);
    console.log(`init with a local server: killed at each of its ${kills} file operations`);
  }, 3_600_000);
});
