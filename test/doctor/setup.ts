/**
 * A project set up the way `init` does it (the built CLI, the test venv's
 * MLflow, a real background server on a free port), and doctor run
 * in-process against it.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import { expect } from 'vitest';
import { runDoctor, type DoctorOptions, type DoctorOutcome } from '../../src/doctor/run-doctor.js';
import type { DoctorReport, ReportCheck } from '../../src/doctor/render.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { distHook, repoRoot, testVenv, venvBin } from '../helpers/venv.js';

export interface Setup {
  tmp: TempDir;
  home: string;
  project: string;
  data: string;
  port: number;
  env: Record<string, string>;
  projectSettings: string;
  userSettings: string;
  localSettings: string;
  doctor(options?: Partial<DoctorOptions>): Promise<DoctorOutcome & { lines: string[] }>;
  cli(args: string[]): ReturnType<typeof runCli>;
  stop(): Promise<void>;
}

/**
 * `venvLink`: `<data>/venv` is a symlink to the test venv and init is given
 * `<data>/venv/bin/mlflow`, so that the venv can go missing and come back.
 */
export async function initSetup(options: { venvLink?: boolean } = {}): Promise<Setup> {
  const tmp = await makeTempDir('claude-mlflow-doctor-');
  const home = path.join(tmp.path, 'home');
  const project = path.join(tmp.path, 'my-app');
  const data = path.join(tmp.path, 'data');
  mkdirSync(home, { recursive: true });
  mkdirSync(project, { recursive: true });
  mkdirSync(data, { recursive: true });
  let mlflow = venvBin('mlflow');
  if (options.venvLink) {
    symlinkSync(testVenv(), path.join(data, 'venv'));
    mlflow = path.join(data, 'venv', 'bin', 'mlflow');
  }
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    USER: process.env.USER ?? 'tester',
    CLAUDE_MLFLOW_HOME: data,
    MLFLOW_DISABLE_TELEMETRY: 'true',
    DO_NOT_TRACK: 'true',
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
  };
  const cli = (args: string[]) => runCli(args, { home, data, cwd: project, env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' } });
  const init = await cli(['init', '--yes', '--project', project, '--port', String(port), '--no-service', '--mlflow', mlflow]);
  expect(init.exitCode, init.stderr + init.stdout).toBe(0);
  return {
    tmp,
    home,
    project,
    data,
    port,
    env,
    projectSettings: path.join(project, '.claude', 'settings.json'),
    userSettings: path.join(home, '.claude', 'settings.json'),
    localSettings: path.join(project, '.claude', 'settings.local.json'),
    async doctor(extra: Partial<DoctorOptions> = {}) {
      const lines: string[] = [];
      const outcome = await runDoctor({
        dataRoot: data,
        project,
        home,
        env,
        managedSettingsFile: null,
        hookRuntimeSource: distHook,
        print: (line) => lines.push(line),
        ...extra,
      });
      return { ...outcome, lines };
    },
    cli,
    async stop() {
      await cli(['server', 'stop']);
      await tmp.cleanup();
    },
  };
}

export function check(report: DoctorReport | undefined, id: string): ReportCheck {
  const found = report?.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report`);
  return found;
}

/** id → status, for readable assertions. */
export function statuses(report: DoctorReport | undefined, ids?: string[]): Record<string, string> {
  return Object.fromEntries((report?.checks ?? []).filter((c) => !ids || ids.includes(c.id)).map((c) => [c.id, c.status]));
}

const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs', 'doctor-json-schema.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
// ajv-formats is CommonJS: under NodeNext its plugin is the module's `default`.
ajvFormats.default(ajv);
const validate = ajv.compile(schema);

/** Throws with ajv's errors when `value` does not follow docs/doctor-json-schema.json. */
export function assertSchema(value: unknown): void {
  if (!validate(value)) throw new Error(`doctor --json does not follow the schema: ${ajv.errorsText(validate.errors)}`);
}

/** A one-turn transcript dated `at`, and the Stop hook input for it. */
export function syntheticSession(
  dir: string,
  sessionId: string,
  at: Date,
  tokens: Record<string, number> = { input_tokens: 10, output_tokens: 5 },
  model = 'claude-test',
): string {
  const rows = [
    {
      type: 'user',
      uuid: `${sessionId}-u`,
      timestamp: new Date(at.getTime() - 2000).toISOString(),
      sessionId,
      version: '2.1.197',
      message: { role: 'user', content: `hello from ${sessionId}` },
    },
    {
      type: 'assistant',
      uuid: `${sessionId}-a`,
      timestamp: at.toISOString(),
      sessionId,
      message: { id: `msg_${sessionId}`, role: 'assistant', model, content: [{ type: 'text', text: 'hi' }], usage: tokens },
    },
  ];
  const transcript = path.join(dir, `${sessionId}.jsonl`);
  writeFileSync(transcript, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return JSON.stringify({ session_id: sessionId, transcript_path: transcript, cwd: dir, hook_event_name: 'Stop' });
}
