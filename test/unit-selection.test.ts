/**
 * `npm run test:unit` (vitest.unit.config.ts) must run with nothing built and
 * no venv, quickly. Its list is explicit; this test keeps the list honest
 * as tests move and grow: every entry exists, and no selected test reaches,
 * through the test modules it imports, a helper that starts a process, the
 * build (dist/) or a venv. A selected test may start a process itself only
 * where the config says which, and why that needs neither.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { NOT_UNIT_TESTS, UNIT_TESTS, UNIT_TESTS_STARTING_PROCESSES } from '../vitest.unit.config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const STARTS_PROCESSES = /^(execa|node:child_process|child_process)$/;
/** The built CLI and hook, and the test venvs: the names test/helpers/venv.ts gives them, and dist/ itself. */
const USES_BUILD_OR_VENV = /\b(distCli|distHook|testVenv|defaultVenv|venvBin|defaultVenvBin)\b|['"]dist['"]/;
/** Where those names are defined (with `repoRoot`, which any test may use), and this file, which looks for them. */
const NAMES_THEM = ['test/helpers/venv.ts', 'test/unit-selection.test.ts'];

/** The selected test files (an entry that does not exist is the first test's finding). */
function selectedTests(): string[] {
  const files = UNIT_TESTS.filter((entry) => existsSync(path.join(ROOT, entry))).flatMap((entry) =>
    entry.endsWith('/')
      ? readdirSync(path.join(ROOT, entry), { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.test.ts'))
          .map((f) => path.posix.join(entry, f.split(path.sep).join('/')))
      : [entry],
  );
  return [...new Set(files)].filter((f) => !NOT_UNIT_TESTS.includes(f)).sort();
}

/** The module specifiers a file really imports (static, dynamic, re-exports), not strings that look like them. */
function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** A relative specifier as a file of the repository (`x.js` written for `x.ts`), or undefined. */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = path.resolve(path.dirname(from), specifier);
  const candidates = [target, target.replace(/\.js$/, '.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** The test modules (test/, bench/) a test reaches through its imports; src/ is the code under test. */
function testModulesReached(testFile: string): string[] {
  const seen = new Set<string>();
  const stack = [path.join(ROOT, testFile)];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiers(file)) {
      const target = resolveLocal(file, specifier);
      if (target && !path.relative(ROOT, target).startsWith(`src${path.sep}`)) stack.push(target);
    }
  }
  return [...seen].map((f) => path.relative(ROOT, f).split(path.sep).join('/'));
}

function startsProcesses(file: string): boolean {
  return specifiers(path.join(ROOT, file)).some((s) => STARTS_PROCESSES.test(s));
}

/** Why a selected test is not a unit test; empty when it is one. */
function problems(testFile: string): string[] {
  const found: string[] = [];
  for (const module of testModulesReached(testFile)) {
    const helper = module !== testFile;
    if (helper && startsProcesses(module)) found.push(`${module} starts processes`);
    if (!NAMES_THEM.includes(module) && USES_BUILD_OR_VENV.test(readFileSync(path.join(ROOT, module), 'utf8'))) {
      found.push(`${module} uses the build or a venv`);
    }
  }
  const listed = testFile in UNIT_TESTS_STARTING_PROCESSES;
  if (startsProcesses(testFile) && !listed) found.push(`${testFile} starts processes: say which in UNIT_TESTS_STARTING_PROCESSES`);
  if (!startsProcesses(testFile) && listed) found.push(`${testFile} is in UNIT_TESTS_STARTING_PROCESSES but starts none`);
  return found;
}

describe('the unit test selection (vitest.unit.config.ts)', () => {
  it('names only folders and files that exist', () => {
    const missing = [...UNIT_TESTS, ...NOT_UNIT_TESTS, ...Object.keys(UNIT_TESTS_STARTING_PROCESSES)].filter(
      (entry) => !existsSync(path.join(ROOT, entry)),
    );
    expect(missing).toEqual([]);
  });

  it('selects tests that need no build, no venv and no helper that starts a process', () => {
    const tests = selectedTests();
    expect(tests.length).toBeGreaterThan(20);
    const found = Object.fromEntries(tests.map((t): [string, string[]] => [t, problems(t)]).filter(([, p]) => p.length > 0));
    expect(found).toEqual({});
  });

  it('lists as starting processes only selected tests', () => {
    const tests = selectedTests();
    expect(Object.keys(UNIT_TESTS_STARTING_PROCESSES).filter((t) => !tests.includes(t))).toEqual([]);
  });
});
