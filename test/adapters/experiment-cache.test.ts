import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedExperimentId,
  EXPERIMENT_CACHE_TTL_MS,
  experimentCacheFileIn,
  rememberExperimentId,
} from '../../src/adapters/experiment-cache.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('experiment-cache-');
});
afterAll(async () => {
  await tmp?.cleanup();
});

describe('experiment id cache', () => {
  it('remembers an id per server and name, for an hour, in a private file beside the spool', () => {
    const file = experimentCacheFileIn(path.join(tmp.path, 'spool'));
    const now = 1_800_000_000_000;
    rememberExperimentId(file, 'http://a:5000/', 'proj', '7', now);
    rememberExperimentId(file, 'http://b:5000', 'proj', '9', now);
    expect(cachedExperimentId(file, 'http://a:5000', 'proj', now + 1000)).toBe('7');
    expect(cachedExperimentId(file, 'http://b:5000', 'proj', now + 1000)).toBe('9');
    expect(cachedExperimentId(file, 'http://a:5000', 'other', now)).toBeUndefined();
    expect(cachedExperimentId(file, 'http://a:5000', 'proj', now + EXPERIMENT_CACHE_TTL_MS)).toBeUndefined();
    expect(cachedExperimentId(file, 'http://a:5000', 'proj', now - 60_000)).toBeUndefined(); // a clock set back
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(path.basename(file).startsWith('.')).toBe(true);
  });

  it('forgets an id, and drops expired entries when it writes', () => {
    const file = experimentCacheFileIn(path.join(tmp.path, 'spool2'));
    const now = 1_800_000_000_000;
    rememberExperimentId(file, 'http://a', 'old', '1', now);
    rememberExperimentId(file, 'http://a', 'proj', '2', now + EXPERIMENT_CACHE_TTL_MS);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual(['http://a proj']);
    rememberExperimentId(file, 'http://a', 'proj', undefined, now + EXPERIMENT_CACHE_TTL_MS);
    expect(cachedExperimentId(file, 'http://a', 'proj', now + EXPERIMENT_CACHE_TTL_MS)).toBeUndefined();
  });

  it('treats a missing or damaged file as empty', () => {
    expect(cachedExperimentId(path.join(tmp.path, 'none.json'), 'http://a', 'proj')).toBeUndefined();
    const file = experimentCacheFileIn(path.join(tmp.path, 'spool3'));
    rememberExperimentId(file, 'http://a', 'proj', '3');
    writeFileSync(file, '{not json');
    expect(cachedExperimentId(file, 'http://a', 'proj')).toBeUndefined();
  });
});
