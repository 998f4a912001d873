/** Run the built hook runtime (dist/claude-mlflow-hook.mjs) as Claude Code would: a fresh process, input on stdin. */
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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

/**
 * The same, measuring the hook process's own peak RSS: a module preloaded
 * into it writes `process.resourceUsage().maxRSS` as it exits.
 */
export async function runHookMeasured(
  stdin: string,
  env: Record<string, string>,
  scratchDir: string,
): Promise<HookProcessResult & { peakRssMb: number }> {
  const measure = path.join(scratchDir, 'measure-rss.mjs');
  const rssFile = path.join(scratchDir, `rss-${process.hrtime.bigint()}`);
  writeFileSync(
    measure,
    "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.CLAUDE_MLFLOW_TEST_RSS_FILE, String(process.resourceUsage().maxRSS)));\n",
  );
  const result = await runHookProcess(stdin, {
    ...env,
    CLAUDE_MLFLOW_TEST_RSS_FILE: rssFile,
    NODE_OPTIONS: `--import=${pathToFileURL(measure).href}`,
  });
  return { ...result, peakRssMb: Number(readFileSync(rssFile, 'utf8')) / 1024 };
}
