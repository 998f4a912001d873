/**
 * A laptop away from its tracking server: the server is unreachable for 100
 * sessions. Every hook returns at once (exit 0, well under 2 s) and spools;
 * the spool never grows past its bound. When the server is back, the 100
 * traces are delivered exactly once, each with its spans.
 */
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryProcesses, stopDelivery, waitForSpoolEmpty } from '../helpers/delivery.js';
import { sampleWithSession } from '../helpers/fixtures.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { searchTraces, startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { freePort } from '../helpers/ports.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { distCli } from '../helpers/venv.js';

const SESSIONS = 100;
const BOUND = 100;
const EXPERIMENT = 'offline-100';

let tmp: TempDir;
let serverDir: TempDir;
let server: MlflowServer | undefined;
let port: number;
let data: string;

const session = (n: number): string => `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`;
const env = (): Record<string, string> =>
  makeHookEnv(
    { home: tmp.path, dataRoot: data, trackingUri: `http://127.0.0.1:${port}`, experiment: EXPERIMENT },
    { CLAUDE_MLFLOW_SPOOL_MAX: String(BOUND) },
  );
const spooled = (): string[] => {
  try {
    return readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json'));
  } catch {
    return [];
  }
};

beforeAll(async () => {
  [tmp, serverDir] = await Promise.all([makeTempDir('offline-100-'), makeTempDir('offline-100-server-')]);
  data = path.join(tmp.path, 'data');
  port = await freePort();
});
afterAll(async () => {
  await stopDelivery(data);
  await server?.stop();
  await Promise.all([serverDir?.cleanup(), tmp?.cleanup()]);
});

describe('100 sessions with the server unreachable', () => {
  it('spools every one without holding Claude Code up, and never past the bound', async () => {
    let slowest = 0;
    for (let n = 1; n <= SESSIONS; n++) {
      const { stdin } = sampleWithSession(tmp.path, session(n));
      const result = await runHookProcess(stdin, env());
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe('');
      slowest = Math.max(slowest, result.wallMs);
      expect(spooled().length).toBeLessThanOrEqual(BOUND);
    }
    expect(slowest).toBeLessThan(2000);
    expect(spooled()).toHaveLength(SESSIONS);
    // Nothing was evicted: the bound was reached, not passed.
    expect(readFileSync(path.join(data, 'logs', 'hook.log'), 'utf8')).not.toMatch(/spool full/);
  });

  it('delivers the 100 once the server is back, with no duplicates', async () => {
    // As when the delivery process has given up (the server stayed away too long): flush sends the spool itself.
    await stopDelivery(data);
    expect(deliveryProcesses(data)).toEqual([]);
    server = await startMlflowServer({ port, dir: serverDir });
    const flush = await execa(process.execPath, [distCli, 'flush', '--json', '--timeout', '120'], {
      env: env(),
      extendEnv: false,
      reject: false,
    });
    expect(flush.exitCode, String(flush.stderr)).toBe(0);
    expect(JSON.parse(String(flush.stdout))).toMatchObject({ waiting: SESSIONS, delivered: SESSIONS, remaining: 0 });
    expect(spooled()).toHaveLength(0);

    // The next session is delivered right away; nothing is sent twice.
    const { stdin } = sampleWithSession(tmp.path, session(SESSIONS + 1));
    expect((await runHookProcess(stdin, env())).exitCode).toBe(0);
    await waitForSpoolEmpty(data);

    const traces = await searchTraces(server, EXPERIMENT);
    const sessions = traces.map((t) => t.info.trace_metadata['mlflow.trace.session']);
    expect(new Set(sessions).size).toBe(sessions.length);
    expect(sessions.sort()).toEqual(Array.from({ length: SESSIONS + 1 }, (_, i) => session(i + 1)).sort());
    for (const t of traces) expect(t.spans.length).toBeGreaterThan(1);
  });
});
