/**
 * Run one of python/*.py the way the CLI does, `<venv python> <script> <args>`,
 * with the test venv's interpreter (or another venv's).
 */
import { execa, type ResultPromise } from 'execa';
import { type PythonScriptName, pythonScript } from '../../src/adapters/python-scripts.js';
import { venvBin } from '../helpers/venv.js';

export interface ScriptRun {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

export interface ScriptOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  python?: string;
  /** Run this file instead of the shipped one (a copy elsewhere). */
  file?: string;
}

/** Start the script; the caller reads and writes its pipes. */
export function startScript(name: PythonScriptName, args: string[], options: ScriptOptions = {}): ResultPromise {
  return execa(options.python ?? venvBin('python'), [options.file ?? pythonScript(name), ...args], {
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONNOUSERSITE: '1', MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', ...options.env },
    cwd: options.cwd,
    reject: false,
    timeout: 120_000,
    ...(options.input === undefined ? { stdin: 'pipe' } : { input: options.input }),
  });
}

/** Run the script to its end. */
export async function runScript(name: PythonScriptName, args: string[], options: ScriptOptions = {}): Promise<ScriptRun> {
  const r = await startScript(name, args, { input: '', ...options });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The one JSON line a script printed. */
export function json<T = Record<string, unknown>>(run: ScriptRun): T {
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.exitCode}): ${run.stdout}\n${run.stderr}`);
  }
}
