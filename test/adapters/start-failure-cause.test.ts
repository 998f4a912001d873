import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFailureCause } from '../../src/adapters/service/background.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const log = (name: string, text: string): string => {
  const file = path.join(tmp.path, name);
  writeFileSync(file, text);
  return file;
};

describe('startFailureCause', () => {
  it('the exception line that ends a traceback, from the last start only', () => {
    const file = log(
      'import.log',
      [
        '=== 2026-11-30T10:00:00Z claude-mlflow starts: mlflow server …',
        'ERROR: an old failure, from an earlier start',
        '=== 2026-11-30T11:00:00Z claude-mlflow starts: mlflow server …',
        'Traceback (most recent call last):',
        '  File "/venv/lib/python3.11/site-packages/mlflow/store/db/utils.py", line 12, in <module>',
        '    from sqlalchemy.pool import FallbackAsyncAdaptedQueuePool',
        "ImportError: cannot import name 'FallbackAsyncAdaptedQueuePool' from 'sqlalchemy.pool'",
        '',
      ].join('\n'),
    );
    expect(startFailureCause(file)).toBe("ImportError: cannot import name 'FallbackAsyncAdaptedQueuePool' from 'sqlalchemy.pool'");
  });

  it('no error line: the last line; no log: nothing', () => {
    expect(startFailureCause(log('plain.log', '=== x claude-mlflow starts: y\nKilled\n'))).toBe('Killed');
    expect(startFailureCause(path.join(tmp.path, 'missing.log'))).toBeUndefined();
  });
});
