/** Run the built hook runtime (dist/claude-mlflow-hook.mjs) as Claude Code would: a fresh process, input on stdin. */
import { execa } from 'execa';
import { distHook } from './venv.js';

export interface HookProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  wallMs: number;
}

export async function runHookProcess(stdin: string, env: Record<string, string>, script = distHook): Promise<HookProcessResult> {
  const started = performance.now();
  const result = await execa(process.execPath, [script], {
    input: stdin,
    env,
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    wallMs: performance.now() - started,
  };
}
