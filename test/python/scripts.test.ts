/**
 * The Python programs as files: every one compiles, each name the TS side
 * asks for exists, the package ships the folder, and a program imports
 * nothing from the user's working directory nor from its own folder.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PythonScriptName, pythonScript } from '../../src/adapters/python-scripts.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { repoRoot, venvBin } from '../helpers/venv.js';
import { json, runScript } from './run-script.js';

const NAMES: PythonScriptName[] = ['sqlite_probe', 'postgres_probe', 'migrate_worker', 'trace_worker', 'sqlite_maintenance'];
const pythonDir = path.join(repoRoot, 'python');

let tmp: TempDir;

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-pyscripts-');
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('the Python programs', () => {
  it('compile, with the venv Python (py_compile; nothing written beside them)', async () => {
    const files = readdirSync(pythonDir).filter((f) => f.endsWith('.py'));
    expect(files.sort()).toEqual(NAMES.map((n) => `${n}.py`).sort());
    const code =
      'import py_compile, sys, os\nfor i, f in enumerate(sys.argv[2:]):\n    py_compile.compile(f, cfile=os.path.join(sys.argv[1], "%d.pyc" % i), doraise=True)';
    const r = await execa(venvBin('python'), ['-c', code, tmp.path, ...files.map((f) => path.join(pythonDir, f))], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(readdirSync(pythonDir).filter((f) => !f.endsWith('.py'))).toEqual([]);
  });

  it('are found from the source tree, and shipped in the package', () => {
    for (const name of NAMES) expect(pythonScript(name)).toBe(path.join(pythonDir, `${name}.py`));
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('python');
  });

  it("import nothing from the working directory nor from the program's own folder", async () => {
    // A json.py that would stop the probe, where `python -c` would have found it (the working directory)
    // and where `python <file>` would (the file's folder, here a copy's).
    const hostile = 'raise SystemExit("imported the wrong json")\n';
    const cwd = path.join(tmp.path, 'project');
    const copyDir = path.join(tmp.path, 'copy');
    for (const dir of [cwd, copyDir]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'json.py'), hostile);
    }
    copyFileSync(pythonScript('sqlite_probe'), path.join(copyDir, 'sqlite_probe.py'));
    for (const file of [pythonScript('sqlite_probe'), path.join(copyDir, 'sqlite_probe.py')]) {
      const r = await runScript('sqlite_probe', [], { cwd, file });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(json(r)).toHaveProperty('python');
    }
  });
});
