/**
 * Python discovery and the MLflow venv, with real interpreters, real pip and
 * real (tiny) fake executables on disk where a wrong version is needed.
 * The install tests need PyPI (or pip's cache).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkMlflowExecutable,
  ensureMlflowVenv,
  findPython,
  importedVersion,
  installIntoPython,
  MLFLOW_FLOOR,
  mlflowVersion,
  reusableVenv,
} from '../../src/adapters/python.js';
import { CliError } from '../../src/errors.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { repoRoot, testVenv, venvBin } from '../helpers/venv.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('claude-mlflow-py-');
});
afterEach(async () => {
  await tmp.cleanup();
});

/** A real executable shell script that prints `output` (and exits with `code`). */
function fakeProgram(dir: string, name: string, output: string, code = 0): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\necho '${output}'\nexit ${code}\n`);
  chmodSync(file, 0o755);
  return file;
}

/**
 * Every package the lock pins for this interpreter (its markers evaluated by
 * `packaging`, which MLflow depends on), against what is installed: the lines
 * that differ.
 */
async function differencesFromLock(pythonBin: string, version: string): Promise<string[]> {
  const code = `
import importlib.metadata as md, re, sys
from packaging.markers import Marker
from packaging.utils import canonicalize_name as canon
installed = {canon(d.metadata["Name"]): d.version for d in md.distributions()}
out = []
for line in open(sys.argv[1]):
    m = re.match(r"^([A-Za-z0-9._-]+)==([^ ;]+)(?: ; (.*))?$", line.strip())
    if not m or (m.group(3) and not Marker(m.group(3)).evaluate()):
        continue
    if installed.get(canon(m.group(1))) != m.group(2):
        out.append("%s: locked %s, installed %s" % (m.group(1), m.group(2), installed.get(canon(m.group(1)))))
print("\\n".join(out))
`;
  const { stdout } = await execa(pythonBin, ['-c', code, path.join(repoRoot, 'locks', `mlflow-${version}.txt`)]);
  return stdout.split('\n').filter(Boolean);
}

async function cliError(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('findPython', () => {
  it("finds this machine's python (>= 3.10) on PATH", async () => {
    const python = await findPython();
    expect(path.isAbsolute(python.path)).toBe(true);
    expect(python.version).toMatch(/^3\.(1\d|[2-9]\d)\.\d+$/);
  });

  it('takes an explicit path to a good python as it is', async () => {
    const explicit = venvBin('python');
    const python = await findPython({ explicit });
    expect(python.path).toBe(explicit);
  });

  it('rejects an explicit python that is too old, naming it (exit 2)', async () => {
    const fake = fakeProgram(tmp.path, 'python', '3.8.0');
    const error = await cliError(findPython({ explicit: fake }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(fake);
    expect(error.message).toContain('3.8.0');
  });

  it('rejects an explicit path that does not exist (exit 2)', async () => {
    const missing = path.join(tmp.path, 'no-such-python');
    const error = await cliError(findPython({ explicit: missing }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(missing);
  });

  it('says what it found, and how to pass --python, when nothing on PATH is new enough (exit 1)', async () => {
    const bin = path.join(tmp.path, 'bin');
    fakeProgram(bin, 'python3', '3.8.0');
    fakeProgram(bin, 'python', '3.9.1');
    fakeProgram(bin, 'python3.12', 'pyenv: python3.12: command not found', 127);
    const error = await cliError(findPython({ env: { PATH: bin } }));
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain('3.8.0');
    expect(error.message).toContain('3.9.1');
    expect(error.message).toContain('python3.12 did not run');
    expect(error.message).toContain('--python');
  });
});

describe('mlflowVersion and checkMlflowExecutable', () => {
  it('reads the version of the test venv mlflow, and accepts it for --mlflow', async () => {
    expect(await mlflowVersion(venvBin('mlflow'))).toBe('3.12.0');
    expect(await checkMlflowExecutable(venvBin('mlflow'))).toBe('3.12.0');
  });

  it(`rejects an mlflow older than ${MLFLOW_FLOOR}, with the version found (exit 2)`, async () => {
    const old = fakeProgram(tmp.path, 'mlflow', 'mlflow, version 3.5.0');
    const error = await cliError(checkMlflowExecutable(old));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('3.5.0');
    expect(error.message).toContain(MLFLOW_FLOOR);
  });

  it('rejects a missing or failing --mlflow (exit 2); mlflowVersion of a failing one is exit 1', async () => {
    expect((await cliError(checkMlflowExecutable(path.join(tmp.path, 'nope')))).exitCode).toBe(2);
    const broken = fakeProgram(tmp.path, 'mlflow', 'Traceback: boom', 1);
    expect((await cliError(checkMlflowExecutable(broken))).exitCode).toBe(2);
    expect((await cliError(mlflowVersion(broken))).exitCode).toBe(1);
  });
});

describe('ensureMlflowVenv', () => {
  it('reuses the test venv without running pip', async () => {
    const python = await findPython();
    const lib = path.join(testVenv(), 'lib');
    const site = path.join(lib, readdirSync(lib).find((d) => d.startsWith('python'))!, 'site-packages');
    const before = statSync(site).mtimeMs;
    const lines: string[] = [];
    for (const mlflowVersion of ['3.12.0', undefined]) {
      const result = await ensureMlflowVenv({ venvDir: testVenv(), python, mlflowVersion, onLine: (l) => lines.push(l) });
      expect(result).toEqual({
        mlflowBin: venvBin('mlflow'),
        pythonBin: venvBin('python'),
        version: '3.12.0',
        reused: true,
        // scripts/setup-test-venv.sh installs with the uv it bootstraps into the venv (a venv made before it did: pip).
        tool: existsSync(path.join(testVenv(), 'bin', 'uv')) ? 'uv' : 'pip',
        locked: true,
      });
    }
    expect(lines).toEqual([]);
    expect(statSync(site).mtimeMs).toBe(before);
  });

  it('rejects a version that is not one (exit 2) before touching anything', async () => {
    const venvDir = path.join(tmp.path, 'venv');
    const error = await cliError(ensureMlflowVenv({ venvDir, python: await findPython(), mlflowVersion: '3.12; rm -rf /' }));
    expect(error.exitCode).toBe(2);
    expect(existsSync(venvDir)).toBe(false);
  });

  it("fails on a version PyPI does not have: pip's last lines in the error, the half-made venv removed", async () => {
    const venvDir = path.join(tmp.path, 'venv');
    const lines: string[] = [];
    const error = await cliError(
      ensureMlflowVenv({ venvDir, python: await findPython(), mlflowVersion: '99.0.0', onLine: (l) => lines.push(l) }),
    );
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain('mlflow==99.0.0');
    // uv's words: no uv is on PATH here, so the pinned one was bootstrapped into the venv first.
    expect(error.message).toMatch(/there is no version of mlflow==99\.0\.0/);
    expect(lines.some((l) => l.includes('MLflow 99.0.0 is not a version we test'))).toBe(true);
    expect(lines.some((l) => l.includes('installing uv==0.13.9 into the venv'))).toBe(true);
    expect(existsSync(venvDir)).toBe(false);
  });

  it('creates a fresh venv with a tested MLflow from its lock, with the bootstrapped uv, then reuses it', async () => {
    const venvDir = path.join(tmp.path, 'venv');
    const python = await findPython();
    const lines: string[] = [];
    const t0 = performance.now();
    const fresh = await ensureMlflowVenv({ venvDir, python, mlflowVersion: '3.12.0', onLine: (l) => lines.push(l) });
    console.log(
      `fresh venv + uv bootstrap + install of locks/mlflow-3.12.0.txt: ${Math.round(performance.now() - t0)} ms, ${lines.length} lines of output`,
    );
    expect(fresh).toEqual({
      mlflowBin: path.join(venvDir, 'bin', 'mlflow'),
      pythonBin: path.join(venvDir, 'bin', 'python'),
      version: '3.12.0',
      reused: false,
      tool: 'uv',
      locked: true,
    });
    expect(lines.some((l) => l.includes('+ mlflow==3.12.0'))).toBe(true);
    expect(await differencesFromLock(fresh.pythonBin, '3.12.0')).toEqual([]);
    expect(await mlflowVersion(fresh.mlflowBin)).toBe('3.12.0');

    const t1 = performance.now();
    const again = await ensureMlflowVenv({ venvDir, python, mlflowVersion: '3.12.0' });
    console.log(`reuse check: ${Math.round(performance.now() - t1)} ms`);
    expect(again).toEqual({ ...fresh, reused: true });
  }, 900_000);

  it('installs with pip from the lock when the uv bootstrap fails', async () => {
    const venvDir = path.join(tmp.path, 'venv');
    // A constraint no uv release meets: pip cannot install uv, and the lock (which has no uv) is unaffected.
    const constraints = path.join(tmp.path, 'no-uv.txt');
    writeFileSync(constraints, 'uv==0.0.0\n');
    const lines: string[] = [];
    const result = await ensureMlflowVenv({
      venvDir,
      python: await findPython(),
      mlflowVersion: '3.12.0',
      env: { ...process.env, PIP_CONSTRAINT: constraints },
      onLine: (l) => lines.push(l),
    });
    expect(result).toMatchObject({ version: '3.12.0', reused: false, tool: 'pip', locked: true });
    expect(lines.some((l) => l.startsWith('Could not install uv==0.13.9') && l.endsWith('installing MLflow with pip.'))).toBe(true);
    expect(existsSync(path.join(venvDir, 'bin', 'uv'))).toBe(false);
    expect(await differencesFromLock(result.pythonBin, '3.12.0')).toEqual([]);
  }, 900_000);

  it('three processes at once on one fresh venv: one installs, the others wait for it and reuse it', async () => {
    const venvDir = path.join(tmp.path, 'shared', 'venv');
    const script = `
      import { ensureMlflowVenv, findPython } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', 'adapters', 'python.js')).href)};
      const lines = [];
      const result = await ensureMlflowVenv({ venvDir: process.env.VENV, python: await findPython(), mlflowVersion: '3.12.0', onLine: (l) => lines.push(l) });
      process.stdout.write(JSON.stringify({ ...result, waited: lines.some((l) => l.includes('is installing MLflow into')) }));
    `;
    const runs = await Promise.all(
      [0, 1, 2].map(() =>
        execa(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, VENV: venvDir }, timeout: 900_000 }),
      ),
    );
    const results = runs.map((r) => JSON.parse(String(r.stdout)) as { version: string; reused: boolean; waited: boolean });
    expect(results.map((r) => r.version)).toEqual(['3.12.0', '3.12.0', '3.12.0']);
    expect(results.filter((r) => !r.reused)).toHaveLength(1);
    expect(results.filter((r) => r.reused && r.waited)).toHaveLength(2);
    expect(await mlflowVersion(path.join(venvDir, 'bin', 'mlflow'))).toBe('3.12.0');
    expect(existsSync(`${venvDir}.lock`)).toBe(false);
  }, 900_000);
});

describe('our Python, run in a project folder', () => {
  let tmp: TempDir;
  let cwd: string;
  beforeEach(async () => {
    tmp = await makeTempDir();
    cwd = process.cwd();
  });
  afterEach(async () => {
    process.chdir(cwd);
    await tmp.cleanup();
  });

  it('imports nothing from it: a hostile csv.py, zipfile.py or psycopg2/ there never runs', async () => {
    const marker = path.join(tmp.path, 'ran');
    const plant = `open(${JSON.stringify(marker)}, 'a').write(__name__ + '\\n')\n`;
    const project = path.join(tmp.path, 'project');
    mkdirSync(path.join(project, 'psycopg2'), { recursive: true });
    for (const file of ['csv.py', 'zipfile.py', 'email.py', 'pip.py', path.join('psycopg2', '__init__.py')])
      writeFileSync(path.join(project, file), plant);
    process.chdir(project);
    // What init, doctor --fix and migrate ask of a venv: its MLflow (importlib.metadata imports csv and zipfile),
    // pip, and the PostgreSQL driver.
    expect((await reusableVenv(testVenv()))?.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await importedVersion(venvBin('python'), 'csv')).toBeDefined();
    expect(await importedVersion(venvBin('python'), 'psycopg2')).not.toBe('?');
    expect(existsSync(marker)).toBe(false);
  });

  it('creates a venv and installs into it with nothing from it: a hostile venv.py, ensurepip.py or pip/ there never runs', async () => {
    const marker = path.join(tmp.path, 'ran');
    const plant = `open(${JSON.stringify(marker)}, 'a').write(__name__ + '\\n')\n`;
    const project = path.join(tmp.path, 'project');
    mkdirSync(path.join(project, 'pip'), { recursive: true });
    for (const file of ['venv.py', 'ensurepip.py', path.join('pip', '__init__.py'), path.join('pip', '__main__.py')])
      writeFileSync(path.join(project, file), plant);
    process.chdir(project);
    const python = await findPython({ env: process.env });
    const noUv = { ...process.env, PATH: path.dirname(process.execPath) };
    // Offline, with no index: what it installs does not matter here, only what it imports on the way.
    await installIntoPython({
      pythonBin: venvBin('python'),
      requirements: ['--dry-run', 'six'],
      env: { ...noUv, PIP_NO_INDEX: '1' },
    }).catch(() => undefined);
    // It makes the venv, then pip finds no such MLflow (and the venv is removed).
    await expect(
      ensureMlflowVenv({ venvDir: path.join(tmp.path, 'venv'), python, mlflowVersion: '0.0.0', env: { ...noUv, PIP_NO_INDEX: '1' } }),
    ).rejects.toThrow(/mlflow==0\.0\.0/);
    expect(existsSync(marker)).toBe(false);
  });
});
