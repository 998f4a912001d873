/** Where a virtualenv keeps its executables. A module of its own, so that light commands can ask without loading python.ts (execa, semver). */
import { join } from 'node:path';

export function venvBins(venvDir: string): { pythonBin: string; mlflowBin: string } {
  return process.platform === 'win32'
    ? { pythonBin: join(venvDir, 'Scripts', 'python.exe'), mlflowBin: join(venvDir, 'Scripts', 'mlflow.exe') }
    : { pythonBin: join(venvDir, 'bin', 'python'), mlflowBin: join(venvDir, 'bin', 'mlflow') };
}
