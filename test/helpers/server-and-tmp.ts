/**
 * One real MLflow server and one temp directory shared by the tests of a
 * file: started in beforeAll, stopped and removed in afterAll.
 */
import { afterAll, beforeAll } from 'vitest';
import { startMlflowServer, type MlflowServer, type StartOptions } from './mlflow-server.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

export interface ServerAndTmp {
  server: MlflowServer;
  tmp: TempDir;
}

/** Call at the top level of a test file; the fields are set once its beforeAll has run. */
export function useServerAndTmp(options: StartOptions = {}): ServerAndTmp {
  const shared = {} as ServerAndTmp;
  beforeAll(async () => {
    shared.server = await startMlflowServer(options);
    shared.tmp = await makeTempDir();
  });
  afterAll(async () => {
    await shared.server?.stop();
    await shared.tmp?.cleanup();
  });
  return shared;
}
