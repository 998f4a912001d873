/**
 * Python and MLflow on this machine: find a Python ≥ 3.10, make (or reuse) the
 * virtualenv with MLflow in it, and check an MLflow executable we are given.
 * Every install goes into the venv; the system Python is only ever asked for
 * its version and to create the venv.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import semver from 'semver';
import { CliError, EXIT } from '../errors.js';
import { findOnPath } from './executable.js';
import { withLock } from './file-lock.js';
import { ensurePrivateDir } from './fs-atomic.js';
import { runProcess } from './process.js';
import { venvBins } from './venv-paths.js';
import { DEFAULT_MLFLOW_VERSION, isTestedMlflow, TESTED_MLFLOW_VERSIONS } from '../core/mlflow-versions.js';
import { PYTHON_ISOLATED } from '../core/python-isolated.js';
import { mlflowLockFile, UV_REQUIREMENT, uvInVenv } from './uv.js';

/** The oldest MLflow that ingests OTLP traces at /v1/traces. */
export const MLFLOW_FLOOR = '3.6.0';
export const PYTHON_FLOOR = '3.10.0';
const PYTHON_CANDIDATES = ['python3.13', 'python3.12', 'python3.11', 'python3.10', 'python3', 'python'];

/** Run a line of our Python with `python -I -c`, importing nothing from the current folder. */
function runPythonCode(python: string, code: string, options: { env: NodeJS.ProcessEnv; timeoutMs?: number }) {
  return runProcess(python, [PYTHON_ISOLATED, '-c', code], { ...options, killSignal: 'SIGTERM' });
}

const VERSION_CODE = "import sys; print('%d.%d.%d' % sys.version_info[:3])";
const MLFLOW_METADATA_CODE = "import importlib.metadata as m; print(m.version('mlflow'))";
const TAIL_LINES = 10;

export interface PythonInfo {
  path: string;
  version: string;
}

export interface VenvResult {
  mlflowBin: string;
  pythonBin: string;
  version: string;
  reused: boolean;
  /** What installed MLflow (for a reused venv: what made the venv). */
  tool: 'uv' | 'pip';
  /** Installed from the lock of a version we test. */
  locked: boolean;
}

// ---------------------------------------------------------------- PATH lookup

/** An absolute path for a user-given program: a bare name is looked up on PATH. */
function resolveProgram(given: string, env: NodeJS.ProcessEnv): string | undefined {
  if (!given.includes('/') && !given.includes(sep)) return findOnPath(given, env);
  const full = isAbsolute(given) ? given : resolve(given);
  return existsSync(full) ? full : undefined;
}

// ---------------------------------------------------------------- versions

/** A version string for semver: '3.12' → '3.12.0'; undefined when it is not one. */
function loose(version: string): string | undefined {
  return semver.valid(semver.coerce(version))?.toString();
}

function atLeast(version: string, floor: string): boolean {
  const v = loose(version);
  return v !== undefined && semver.gte(v, floor);
}

function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  const plain = /^\d+(\.\d+)*$/;
  return plain.test(a) && plain.test(b) && semver.eq(loose(a)!, loose(b)!);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

type Probe = { ok: true; version: string } | { ok: false; reason: string };

async function pythonVersion(python: string, env: NodeJS.ProcessEnv): Promise<Probe> {
  const r = await runPythonCode(python, VERSION_CODE, { env, timeoutMs: 20_000 });
  const out = r.stdout.trim();
  if (r.exitCode === 0 && /^\d+\.\d+\.\d+$/.test(out)) return { ok: true, version: out };
  return { ok: false, reason: firstLine(r.stderr) || r.failure || `exit ${r.exitCode}` };
}

// ---------------------------------------------------------------- findPython

/**
 * The Python to build the venv with. An explicit path (--python) must work
 * and be ≥ 3.10 (else exit 2, naming it); otherwise the newest-named
 * candidate on PATH that is ≥ 3.10 (pyenv shims that do not resolve are skipped).
 */
export async function findPython(options: { explicit?: string; env?: NodeJS.ProcessEnv } = {}): Promise<PythonInfo> {
  const env = options.env ?? process.env;
  if (options.explicit) {
    const path = resolveProgram(options.explicit, env);
    if (!path) throw new CliError(`--python ${options.explicit}: no such file`, EXIT.usage);
    const probe = await pythonVersion(path, env);
    if (!probe.ok) throw new CliError(`--python ${path} did not run as Python: ${probe.reason}`, EXIT.usage);
    if (!atLeast(probe.version, PYTHON_FLOOR)) {
      throw new CliError(`--python ${path} is Python ${probe.version}; claude-mlflow needs Python 3.10 or newer`, EXIT.usage);
    }
    return { path, version: probe.version };
  }
  const seen: string[] = [];
  for (const name of PYTHON_CANDIDATES) {
    const path = findOnPath(name, env);
    if (!path) continue;
    const probe = await pythonVersion(path, env);
    if (probe.ok && atLeast(probe.version, PYTHON_FLOOR)) return { path, version: probe.version };
    seen.push(probe.ok ? `${path} is ${probe.version}` : `${path} did not run`);
  }
  const found = seen.length ? `found: ${seen.join('; ')}` : `none of ${PYTHON_CANDIDATES.join(', ')} is on PATH`;
  throw new CliError(`no Python 3.10 or newer found (${found}). Install Python 3.10+, or pass --python /path/to/python3.`, EXIT.failure);
}

// ---------------------------------------------------------------- the venv

export { venvBins } from './venv-paths.js';

function venvTool(venvDir: string): 'uv' | 'pip' {
  try {
    return /^uv\s*=/m.test(readFileSync(join(venvDir, 'pyvenv.cfg'), 'utf8')) || uvInVenv(venvBins(venvDir).pythonBin) ? 'uv' : 'pip';
  } catch {
    return 'pip';
  }
}

type VenvProbe = { kind: 'missing' } | { kind: 'broken' } | { kind: 'ok'; mlflow?: string };

/** What is in venvDir: nothing, a venv whose python no longer runs, or a venv (with MLflow's version, if installed). */
async function probeVenv(venvDir: string, env: NodeJS.ProcessEnv): Promise<VenvProbe> {
  const { pythonBin, mlflowBin } = venvBins(venvDir);
  if (!existsSync(pythonBin)) return { kind: 'missing' };
  const r = await runPythonCode(pythonBin, MLFLOW_METADATA_CODE, { env, timeoutMs: 30_000 });
  if (r.exitCode === 0) {
    const version = r.stdout.trim();
    return { kind: 'ok', mlflow: existsSync(mlflowBin) && version ? version : undefined };
  }
  // PackageNotFoundError: the python runs, MLflow is not there.
  if (/PackageNotFoundError/.test(r.stderr)) return { kind: 'ok' };
  return { kind: 'broken' };
}

/** Run a command, feeding each output line (stdout and stderr) to onLine; keep the last lines. */
async function runStreaming(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void,
): Promise<{ ok: boolean; tail: string[]; summary: string }> {
  const tail: string[] = [];
  const take = (line: string): void => {
    const text = line.trimEnd();
    if (!text) return;
    tail.push(text);
    if (tail.length > TAIL_LINES) tail.shift();
    onLine?.(text);
  };
  const partial = { stdout: '', stderr: '' };
  const r = await runProcess(file, args, {
    env,
    onOutput: (chunk, stream) => {
      const parts = (partial[stream] + chunk).split(/\r?\n|\r/);
      partial[stream] = parts.pop() ?? '';
      parts.forEach(take);
    },
  });
  take(partial.stdout);
  take(partial.stderr);
  const summary = r.failure === undefined ? 'ok' : r.exitCode !== undefined ? `exit ${r.exitCode}` : r.failure;
  return { ok: r.failure === undefined, tail, summary };
}

async function hasPip(pythonBin: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const r = await runPythonCode(pythonBin, 'import pip', { env });
  return r.exitCode === 0;
}

const clip = (line: string): string => (line.length > 400 ? `${line.slice(0, 400)}…` : line);

/** The venv as it is, when it already holds a good MLflow: no Python search, no pip. */
export async function reusableVenv(
  venvDir: string,
  mlflowVersion?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<VenvResult | undefined> {
  const probe = await probeVenv(venvDir, env);
  if (probe.kind !== 'ok' || !probe.mlflow) return undefined;
  const good = mlflowVersion ? sameVersion(probe.mlflow, mlflowVersion) : atLeast(probe.mlflow, MLFLOW_FLOOR);
  return good
    ? { ...venvBins(venvDir), version: probe.mlflow, reused: true, tool: venvTool(venvDir), locked: isTestedMlflow(probe.mlflow) }
    : undefined;
}

export interface MlflowVenvOptions {
  venvDir: string;
  python: PythonInfo;
  mlflowVersion?: string;
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** An install of MLflow takes seconds to a minute; one holder at a time, the others wait and then reuse it. */
const VENV_LOCK = { staleMs: 60_000, timeoutMs: 30 * 60_000 };

/**
 * A venv at venvDir with MLflow: exactly mlflowVersion, or without one, any
 * MLflow ≥ MLFLOW_FLOOR already there, else DEFAULT_MLFLOW_VERSION.
 * - A venv that already satisfies that is reused without installing anything.
 * - A version we test is installed from its lock (locks/), every package
 *   pinned; another one as `mlflow==<version>`, with a warning.
 * - uv installs it: the one on PATH, else the pinned one bootstrapped into
 *   the venv; pip when that bootstrap fails. Their caches are used.
 * - A venv dir created by this call is removed again when the install fails.
 *
 * One process at a time per venv (twenty `init`s at once would otherwise
 * install into one folder together): the others wait, then find it made.
 */
export async function ensureMlflowVenv(options: MlflowVenvOptions): Promise<VenvResult> {
  ensurePrivateDir(dirname(options.venvDir));
  const onWait = (holder: number | undefined): void =>
    options.onLine?.(
      `Another claude-mlflow${holder ? ` (PID ${holder})` : ''} is installing MLflow into ${options.venvDir}: waiting for it.`,
    );
  return withLock(`${options.venvDir}.lock`, { ...VENV_LOCK, onWait }, () => ensureMlflowVenvUnlocked(options));
}

async function ensureMlflowVenvUnlocked(options: MlflowVenvOptions): Promise<VenvResult> {
  const { venvDir, python, mlflowVersion: wanted, onLine } = options;
  const env = options.env ?? process.env;
  if (wanted !== undefined && !/^\d[0-9A-Za-z.+!-]*$/.test(wanted)) {
    throw new CliError(`"${wanted}" is not an MLflow version (expected e.g. 3.12.0)`, EXIT.usage);
  }
  const ok = (version: string): boolean => (wanted ? sameVersion(version, wanted) : atLeast(version, MLFLOW_FLOOR));
  const bins = venvBins(venvDir);

  let probe = await probeVenv(venvDir, env);
  if (probe.kind === 'ok' && probe.mlflow && ok(probe.mlflow)) {
    return { ...bins, version: probe.mlflow, reused: true, tool: venvTool(venvDir), locked: isTestedMlflow(probe.mlflow) };
  }
  if (probe.kind === 'broken' && existsSync(join(venvDir, 'pyvenv.cfg'))) {
    // Its Python was upgraded or removed under it: start again.
    onLine?.(`The virtualenv at ${venvDir} no longer runs; recreating it.`);
    rmSync(venvDir, { recursive: true, force: true });
    probe = { kind: 'missing' };
  }

  const target = wanted ?? DEFAULT_MLFLOW_VERSION;
  const lock = mlflowLockFile(target);
  const requirement = lock ? ['-r', lock] : [`mlflow==${target}`];
  const what = lock ? `MLflow ${target} (locked: ${lock})` : `mlflow==${target}`;
  if (!lock) onLine?.(`MLflow ${target} is not a version we test (${TESTED_MLFLOW_VERSIONS.join(', ')}): installing it without a lock.`);
  const createdDir = !existsSync(venvDir);
  const pipEnv: NodeJS.ProcessEnv = { ...env, PIP_USER: '0', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  const fail = (why: string, tail: string[]): CliError => {
    if (createdDir) rmSync(venvDir, { recursive: true, force: true });
    const lines = tail.length ? `\n${tail.map(clip).join('\n')}` : '';
    return new CliError(`installing ${what} into ${venvDir} failed (${why})${lines}`, EXIT.failure);
  };
  const run = async (file: string, args: string[], stepEnv: NodeJS.ProcessEnv): Promise<void> => {
    const r = await runStreaming(file, args, stepEnv, onLine);
    if (!r.ok) throw fail(`${[file, ...args.filter((a) => a !== PYTHON_ISOLATED).slice(0, 2)].join(' ')}: ${r.summary}`, r.tail);
  };

  let uv = findOnPath('uv', env);
  if (probe.kind === 'missing') {
    if (uv) await run(uv, ['venv', '--python', python.path, venvDir], env);
    else await run(python.path, [PYTHON_ISOLATED, '-m', 'venv', venvDir], env);
  } else if (!uv && !(await hasPip(bins.pythonBin, env))) {
    // A venv made by uv has no pip of its own.
    await run(bins.pythonBin, [PYTHON_ISOLATED, '-m', 'ensurepip'], env);
  }
  uv ??= uvInVenv(bins.pythonBin) ?? (await bootstrapUv(bins.pythonBin, pipEnv, onLine));
  if (uv) await run(uv, ['pip', 'install', '--python', bins.pythonBin, ...requirement], uvEnv(env));
  else await run(bins.pythonBin, [PYTHON_ISOLATED, '-m', 'pip', 'install', '--disable-pip-version-check', ...requirement], pipEnv);

  // From the package metadata, as the reuse check reads it: `mlflow --version` imports MLflow, 2.6 s on 3.17.
  const installed = await probeVenv(venvDir, env);
  const version = installed.kind === 'ok' ? installed.mlflow : undefined;
  if (!version) throw fail(`no mlflow in ${venvDir} afterwards`, []);
  if (!sameVersion(version, target)) throw fail(`got MLflow ${version}`, []);
  return { ...bins, version, reused: false, tool: uv ? 'uv' : 'pip', locked: lock !== undefined };
}

/**
 * uv trusts the system's certificate store, as pip does (truststore): behind
 * a proxy whose CA is installed there, uv's own roots would refuse PyPI. Both
 * names, for the uv on PATH whatever its age; the user's choice wins.
 */
function uvEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { UV_SYSTEM_CERTS: '1', UV_NATIVE_TLS: '1', ...env };
}

/**
 * The pinned uv, installed from PyPI into the venv with the venv's own pip:
 * a few seconds, which the MLflow install then wins back many times over.
 * Undefined (and pip installs MLflow) when that fails, offline for example.
 */
async function bootstrapUv(pythonBin: string, pipEnv: NodeJS.ProcessEnv, onLine?: (line: string) => void): Promise<string | undefined> {
  onLine?.(`No uv on PATH: installing ${UV_REQUIREMENT} into the venv, to install MLflow with.`);
  const r = await runStreaming(
    pythonBin,
    [PYTHON_ISOLATED, '-m', 'pip', 'install', '--disable-pip-version-check', UV_REQUIREMENT],
    pipEnv,
    onLine,
  );
  const uv = r.ok ? uvInVenv(pythonBin) : undefined;
  if (!uv)
    onLine?.(
      `Could not install ${UV_REQUIREMENT} (${r.summary}${r.tail.length ? `: ${clip(r.tail.at(-1)!)}` : ''}); installing MLflow with pip.`,
    );
  return uv;
}

// ---------------------------------------------------------------- more packages

export { PSYCOPG2_REQUIREMENT } from '../core/backend-store.js';

/** The version of `module` that `pythonBin` imports (its `__version__`), or undefined when it cannot import it. */
export async function importedVersion(
  pythonBin: string,
  module: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const code = `import ${module} as m; print(str(getattr(m, '__version__', '?')).split()[0])`;
  const r = await runPythonCode(pythonBin, code, { env, timeoutMs: 30_000 });
  return r.exitCode === 0 ? r.stdout.trim() || '?' : undefined;
}

/**
 * pip-install requirements into the environment `pythonBin` belongs to (our
 * venv): with uv when it is on PATH or in the venv, else the venv's pip (bootstrapped with
 * ensurepip when the venv was made by uv). pip's cache is used.
 */
export async function installIntoPython(options: {
  pythonBin: string;
  requirements: string[];
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}): Promise<{ tool: 'uv' | 'pip' }> {
  const { pythonBin, requirements, onLine } = options;
  const env = options.env ?? process.env;
  const what = requirements.join(' ');
  const uv = findOnPath('uv', env) ?? uvInVenv(pythonBin);
  const pipEnv: NodeJS.ProcessEnv = { ...env, PIP_USER: '0', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  const run = async (file: string, args: string[], stepEnv: NodeJS.ProcessEnv): Promise<void> => {
    const r = await runStreaming(file, args, stepEnv, onLine);
    if (!r.ok) {
      const lines = r.tail.length ? `\n${r.tail.map(clip).join('\n')}` : '';
      throw new CliError(
        `installing ${what} with ${pythonBin} failed (${[file, ...args.filter((a) => a !== PYTHON_ISOLATED).slice(0, 2)].join(' ')}: ${r.summary})${lines}`,
        EXIT.failure,
      );
    }
  };
  if (uv) {
    await run(uv, ['pip', 'install', '--python', pythonBin, ...requirements], uvEnv(env));
    return { tool: 'uv' };
  }
  if (!(await hasPip(pythonBin, env))) await run(pythonBin, [PYTHON_ISOLATED, '-m', 'ensurepip'], env);
  await run(pythonBin, [PYTHON_ISOLATED, '-m', 'pip', 'install', '--disable-pip-version-check', ...requirements], pipEnv);
  return { tool: 'pip' };
}

// ---------------------------------------------------------------- mlflow executables

/** `mlflow --version` → '3.12.0'. */
export async function mlflowVersion(mlflowBin: string): Promise<string> {
  const r = await runProcess(mlflowBin, ['--version'], { timeoutMs: 60_000, killSignal: 'SIGTERM' });
  const match = /version\s+([^\s,]+)/i.exec(r.stdout);
  if (r.exitCode === 0 && match?.[1]) return match[1];
  const why = firstLine(r.stderr) || r.failure || `exit ${r.exitCode}`;
  throw new CliError(`could not get the version of ${mlflowBin} (\`${mlflowBin} --version\`: ${why})`, EXIT.failure);
}

/** For --mlflow PATH: it exists, runs, and is MLflow ≥ MLFLOW_FLOOR. Returns its version. */
export async function checkMlflowExecutable(path: string): Promise<string> {
  const full = resolveProgram(path, process.env);
  if (!full) throw new CliError(`--mlflow ${path}: no such file`, EXIT.usage);
  let version: string;
  try {
    version = await mlflowVersion(full);
  } catch (error) {
    throw new CliError(`--mlflow ${path}: ${(error as Error).message}`, EXIT.usage);
  }
  if (!atLeast(version, MLFLOW_FLOOR)) {
    throw new CliError(
      `--mlflow ${path} is MLflow ${version}; claude-mlflow needs MLflow ${MLFLOW_FLOOR} or newer (OTLP trace ingest at /v1/traces)`,
      EXIT.usage,
    );
  }
  return version;
}
