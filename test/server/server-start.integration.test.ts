/**
 * One server per data folder: `server start` run five times at once on a
 * stopped server starts exactly one (the server log records every start),
 * and every run says it is up.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { serversOn } from '../helpers/server-processes.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

let tmp: TempDir;
let c: { home: string; data: string; cwd: string };
beforeAll(async () => {
  tmp = await makeTempDir();
  c = { home: path.join(tmp.path, 'home'), data: path.join(tmp.path, 'data'), cwd: path.join(tmp.path, 'app') };
  for (const dir of [c.home, path.join(c.cwd, '.claude')]) (await import('node:fs')).mkdirSync(dir, { recursive: true });
});
afterAll(async () => {
  await runCli(['server', 'stop'], c);
  await tmp?.cleanup();
});

/** How many times a server was started on this data folder, from the lines the server log gets at each start. */
function startsLogged(data: string): number {
  return readFileSync(path.join(data, 'logs', 'server.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('claude-mlflow starts:')).length;
}

describe('server start, five at once', () => {
  it('starts one server on a stopped data folder', async () => {
    const init = await runCli(
      ['init', '--yes', '--no-service', '--port', String(await freePort()), '--mlflow', venvBin('mlflow'), '--project', c.cwd],
      c,
    );
    expect(init.exitCode, init.stderr + init.stdout).toBe(0);
    expect((await runCli(['server', 'stop'], c)).exitCode).toBe(0);
    const database = path.join(c.data, 'mlflow.db');
    expect(serversOn(database)).toEqual([]);
    const startsBefore = startsLogged(c.data);

    const runs = await Promise.all(Array.from({ length: 5 }, () => runCli(['server', 'start'], c)));
    for (const r of runs) expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(startsLogged(c.data) - startsBefore).toBe(1);
    expect(serversOn(database)).toHaveLength(1);
    const pid = JSON.parse(readFileSync(path.join(c.data, 'server.pid'), 'utf8')).pid as number;
    expect(serversOn(database)).toEqual([pid]);
  });
});
