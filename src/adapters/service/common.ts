/**
 * What the OS service managers share: templates, names, the explicit
 * environment, the log folders, running their commands, the default context.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, posix, win32 } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT } from '../../errors.js';
import { ensurePrivateDir } from '../fs-atomic.js';
import { runProcess } from '../process.js';
import { serverArgs, serverEnvironment, type ServerSpec } from './background.js';
import type { ManagerContext, RunResult, ServiceSpec } from './types.js';

export const DEFAULT_LABEL = 'dev.claude-mlflow.server';

/** `templates/` at the package root: three levels up from src/adapters/service and from dist/adapters/service. */
const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));

const templateCache = new Map<string, string>();

export function loadTemplate(name: string): string {
  let text = templateCache.get(name);
  if (text === undefined) {
    text = readFileSync(`${TEMPLATES_DIR}${name}`, 'utf8');
    templateCache.set(name, text);
  }
  return text;
}

/**
 * Plain `{{NAME}}` substitution in one pass (a value that contains `{{X}}` is
 * not substituted again). Values must already be escaped for the target
 * format. A placeholder without a value, or a value without a placeholder, is
 * a bug: both throw.
 */
export function fillTemplate(template: string, values: Record<string, string>): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template placeholder {{${key}}} has no value`);
    used.add(key);
    return value;
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`template has no placeholder for ${unused.join(', ')}`);
  return out;
}

/** 'dev.claude-mlflow.server' -> 'claude-mlflow-server': the unit and task name (the reverse-DNS prefix dropped). */
export function serviceName(label: string): string {
  assertLabel(label);
  const parts = label.split('.');
  return parts.length > 1 ? parts.slice(1).join('-') : label;
}

export function assertLabel(label: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/.test(label)) {
    throw new CliError(`invalid service label ${JSON.stringify(label)}: use letters, digits, '-', '_' and dots`, EXIT.usage);
  }
}

/** Reject what no service file format can carry: NUL, CR, LF and the other C0 controls but tab. */
export function assertPrintable(what: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    throw new CliError(
      `${what} contains a control character (newline?), which a service file cannot carry: ${JSON.stringify(value)}`,
      EXIT.failure,
    );
  }
}

export function assertEnvName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new CliError(`invalid environment variable name ${JSON.stringify(name)}`, EXIT.failure);
}

const POSIX_SYSTEM_PATH = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/**
 * The service's environment, PATH first: a given PATH gets the mlflow bin dir
 * prepended when it lacks it; a missing one becomes that dir plus the system dirs.
 * (Windows: see schtasks.ts, which extends the inherited PATH instead.)
 */
export function posixEnvironment(spec: ServiceSpec): Array<[string, string]> {
  const binDir = posix.dirname(spec.mlflowBin);
  const given = spec.environment.PATH;
  const parts = given !== undefined ? given.split(':').filter(Boolean) : POSIX_SYSTEM_PATH;
  const path = [binDir, ...parts.filter((p) => p !== binDir)].join(':');
  const rest = Object.entries(spec.environment).filter(([k]) => k !== 'PATH');
  const entries: Array<[string, string]> = [['PATH', path], ...rest];
  for (const [k, v] of entries) {
    assertEnvName(k);
    assertPrintable(`environment variable ${k}`, v);
  }
  return entries;
}

/** The checks every manager makes before rendering. */
export function assertSpec(spec: ServiceSpec, isAbsolute: (p: string) => boolean = posix.isAbsolute): void {
  assertLabel(spec.label);
  for (const [what, value] of [
    ['mlflowBin', spec.mlflowBin],
    ['workingDirectory', spec.workingDirectory],
    ['stdoutPath', spec.stdoutPath],
    ['stderrPath', spec.stderrPath],
  ] as const) {
    assertPrintable(what, value);
    if (!isAbsolute(value)) throw new CliError(`${what} must be an absolute path: ${value}`, EXIT.failure);
  }
  spec.args.forEach((a, i) => assertPrintable(`argument ${i + 1}`, a));
}

/** Every directory the log files go into. */
export function logDirs(spec: ServiceSpec): string[] {
  return [...new Set([dirname(spec.stdoutPath), dirname(spec.stderrPath)])];
}

/** The log folders, private (0700) even when they were there already: an install makes them before its unit file. */
export function ensureLogDirs(spec: ServiceSpec): void {
  for (const dir of logDirs(spec)) {
    ensurePrivateDir(dir);
    chmodSync(dir, 0o700);
  }
}

/** The real context: this user, this environment, commands run by runCommand (never rejecting). */
export function defaultContext(env: NodeJS.ProcessEnv = process.env): ManagerContext {
  return {
    home: env.HOME || env.USERPROFILE || homedir(),
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    env,
    run: (cmd, args) => runCommand(cmd, args, env),
  };
}

/** Never rejects; no stdin, the given environment only (its PATH finds the command), 60 s at most. */
export async function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const r = await runProcess(cmd, args, { env, timeoutMs: 60_000, killSignal: 'SIGTERM' });
  return {
    exitCode: r.exitCode ?? 127,
    stdout: r.stdout,
    stderr: r.stderr || (r.exitCode === undefined ? (r.failure ?? '') : ''),
  };
}

/** A failed command as one CliError. */
export function commandError(cmd: string, args: string[], r: RunResult): CliError {
  const output = (r.stderr || r.stdout).trim();
  return new CliError(`\`${[cmd, ...args].join(' ')}\` failed (exit ${r.exitCode})${output ? `: ${output}` : ''}`, EXIT.failure);
}

/** Run a command that must succeed: a non-zero exit is a commandError. */
export async function runChecked(ctx: ManagerContext, cmd: string, args: string[]): Promise<RunResult> {
  const r = await ctx.run(cmd, args);
  if (r.exitCode !== 0) throw commandError(cmd, args, r);
  return r;
}

/**
 * The ServiceSpec for the server that background.ts would run: same mlflow,
 * same arguments and settings (serverEnvironment), same log file, the data
 * folder as working directory, and an explicit environment (never the user's
 * whole shell environment).
 */
export function serviceSpecFor(
  server: ServerSpec,
  options: { label?: string; environment?: Record<string, string>; platform?: NodeJS.Platform } = {},
): ServiceSpec {
  const platform = options.platform ?? process.platform;
  const path = platform === 'win32' ? win32 : posix;
  return {
    label: options.label ?? DEFAULT_LABEL,
    mlflowBin: server.mlflowBin,
    args: serverArgs(server),
    workingDirectory: path.dirname(server.pidFile),
    stdoutPath: server.logFile,
    stderrPath: server.logFile,
    environment: { PYTHONUNBUFFERED: '1', ...serverEnvironment(server), ...options.environment },
  };
}
