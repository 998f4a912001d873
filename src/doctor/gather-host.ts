/**
 * doctor's gatherers for this machine and its Claude Code settings: the
 * settings scopes, the hook runtime and the hook command, the spool, the
 * hook log, linger and the --deep run.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findOnPath, isExecutableFile } from '../adapters/executable.js';
import { bundledHookScript, hookRuntimeIsCurrent } from '../adapters/hook-runtime.js';
import { runProcess } from '../adapters/process.js';
import type { Facts, HookLogFacts, HookProcessFacts, LingerFacts, RuntimeFacts, SettingsFacts, SpoolFacts } from '../core/checks/facts.js';
import { HOOK_START_LIMIT_MS } from '../core/checks/runtime.js';
import { ourHooks, readScopes } from '../core/checks/settings-derived.js';
import { readQuoted } from '../core/settings.js';
import { deliveryState } from '../services/delivery/state.js';
import { markGitTracked, readAllScopes } from '../services/settings-scan.js';
import { runDeep } from './deep.js';
import type { GatherContext } from './facts.js';

/** `sh`-style words of a command line ('…', "…" and \ quoting). */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'" || ch === '"') {
      const quoted = readQuoted(command, i);
      word = (word ?? '') + quoted.text;
      i = quoted.end;
    } else if (ch === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[i + 1];
      i++;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Whether two paths name the same file (both must exist). */
function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function readTail(file: string, bytes: number): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const length = Math.min(size, bytes);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

export async function gatherSettings({ environment, platform }: GatherContext): Promise<SettingsFacts> {
  const { project, home, env } = environment;
  return markGitTracked(readAllScopes({ project, home, platform, managedFile: environment.managedSettingsFile }), env);
}

export async function gatherRuntime({ environment, files }: GatherContext): Promise<RuntimeFacts> {
  const script = files.hookScript;
  if (!existsSync(script)) return { script, exists: false };
  try {
    return {
      script,
      exists: true,
      current: hookRuntimeIsCurrent(environment.dataRoot, environment.hookRuntimeSource ?? bundledHookScript()),
    };
  } catch {
    return { script, exists: true };
  }
}

/** The hook command the settings name (Stop's, else the first): does its node run, and does our runtime start in time? */
export async function gatherHookProcess({ environment, files, facts: gathered }: GatherContext): Promise<HookProcessFacts> {
  const { project, env } = environment;
  const hooks = ourHooks(readScopes(await gathered.settings()));
  const hook = hooks.find((h) => h.event === 'Stop') ?? hooks[0];
  if (!hook) return {};
  const words = splitCommand(hook.command);
  const facts: HookProcessFacts = { command: hook.command, scope: hook.scope };
  if (words.length !== 2 || !/\.m?js$/.test(words[1]!)) return facts;
  const nodePath = words[0]!.includes('/') || words[0]!.includes('\\') ? words[0]! : (findOnPath(words[0]!, env) ?? words[0]!);
  facts.nodePath = nodePath;
  facts.scriptPath = words[1]!;
  facts.nodeExists = isExecutableFile(nodePath);
  facts.scriptExists = existsSync(words[1]!);
  if (!facts.nodeExists) return facts;
  // Never run what a settings file names (a cloned project's can name anything): only our own
  // node, which is this process, and our own runtime, when the command names exactly those.
  const ourNode = samePath(nodePath, process.execPath);
  const ourScript = samePath(words[1]!, files.hookScript);
  if (ourNode) facts.nodeVersion = process.versions.node;
  if (!ourNode || !ourScript) {
    facts.notOurs = true;
    return facts;
  }
  if (!facts.scriptExists) return facts;
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv.MLFLOW_CLAUDE_TRACING_ENABLED;
  const t0 = performance.now();
  const r = await runProcess(process.execPath, [files.hookScript], {
    input: '',
    timeoutMs: HOOK_START_LIMIT_MS,
    env: childEnv,
    cwd: existsSync(project) ? project : undefined,
  });
  facts.start = { exitCode: r.exitCode, ms: performance.now() - t0, timedOut: r.timedOut, stderr: r.error ?? r.stderr };
  return facts;
}

export async function gatherSpool({ files }: GatherContext): Promise<SpoolFacts> {
  const dir = files.spool;
  let rejected = 0;
  try {
    rejected = readdirSync(join(dir, 'rejected')).filter((n) => n.endsWith('.trace.json')).length;
  } catch {
    // none
  }
  const { waiting, oldestSpooledAt, runningPid, lastSuccessAt, lastFailureAt, lastError } = deliveryState(dir);
  return {
    dir,
    count: waiting,
    unreadable: 0,
    rejected,
    nowMs: Date.now(),
    ...(oldestSpooledAt !== undefined ? { oldest: new Date(oldestSpooledAt).toISOString() } : {}),
    delivery: { runningPid, lastSuccessAt, lastFailureAt, lastError },
  };
}

export async function gatherHookLog({ files }: GatherContext): Promise<HookLogFacts> {
  const text = readTail(files.hookLog, 64 * 1024);
  const lines = text.split('\n').filter((l) => / error /.test(l));
  const last = lines[lines.length - 1];
  const facts: HookLogFacts = { file: files.hookLog, nowMs: Date.now() };
  if (last) {
    const m = /^(\S+) error (.*)$/.exec(last);
    facts.lastError = m ? { at: m[1], text: m[2]! } : { text: last };
  }
  // The hook's own words when it drops traces from a full spool (src/hook/run-hook.ts).
  for (const line of text.split('\n')) {
    const m = /^(\S+) warn spool full \(\d+ traces\): removed the (\d+) oldest/.exec(line);
    if (m) facts.evicted = { count: (facts.evicted?.count ?? 0) + Number(m[2]), lastAt: m[1] };
  }
  return facts;
}

export async function gatherLinger({ environment, platform, facts }: GatherContext): Promise<LingerFacts> {
  const ctx = await facts.context();
  if (platform !== 'linux' || ctx.server?.manager !== 'systemd') return { applicable: false };
  const { env } = environment;
  const user = env.USER || env.LOGNAME || '';
  const r = await runProcess('loginctl', ['show-user', user, '-p', 'Linger', '--value'], { timeoutMs: 5000 });
  return { applicable: true, user, enabled: r.stdout.trim() === 'yes' };
}

export async function gatherDeep({ environment, facts }: GatherContext): Promise<Facts['deep']> {
  if (!environment.deep) return { requested: false };
  const { env, project } = environment;
  return runDeep({
    context: await facts.context(),
    settings: await facts.settings(),
    env,
    project,
    ...(environment.announce ? { announce: environment.announce } : {}),
  });
}
