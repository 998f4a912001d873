/**
 * `python -c` and `python -m` put the current folder first on sys.path, so a
 * project folder's `csv.py`, `sqlite3.py`, `venv.py` or `pip/` would be
 * imported, and run, in place of the real one (importlib.metadata alone
 * imports csv, email and zipfile). Isolated mode (-I) leaves it out, and the
 * user's site-packages and PYTHON* variables too: what runs is the code we
 * give and the venv's packages. The commands we run use it, and so do the
 * commands we print for the user to run, from wherever they are.
 */
export const PYTHON_ISOLATED = '-I';

/** The argv of `python -I <args>`. */
export function isolatedPython(python: string, ...args: string[]): string[] {
  return [python, PYTHON_ISOLATED, ...args];
}
