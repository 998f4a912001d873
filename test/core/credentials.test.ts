import { describe, expect, it } from 'vitest';
import { applyCredentials, credentialsFrom, credentialsInUri, mergePrevious } from '../../src/core/credentials.js';
import { removeTracing } from '../../src/core/settings.js';

describe('credentialsFrom', () => {
  it('the token wins, as in the requests the hook sends', () => {
    expect(credentialsFrom({ MLFLOW_TRACKING_TOKEN: 't', MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p' })).toEqual({
      kind: 'token',
      env: { MLFLOW_TRACKING_TOKEN: 't' },
      label: 'MLFLOW_TRACKING_TOKEN',
    });
  });

  it('user name and password together, or whichever is set', () => {
    expect(credentialsFrom({ MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p' })?.env).toEqual({
      MLFLOW_TRACKING_USERNAME: 'u',
      MLFLOW_TRACKING_PASSWORD: 'p',
    });
    expect(credentialsFrom({ MLFLOW_TRACKING_PASSWORD: 'p' })?.label).toBe('MLFLOW_TRACKING_PASSWORD');
    expect(credentialsFrom({ MLFLOW_TRACKING_TOKEN: '' })).toBeUndefined();
    expect(credentialsFrom({})).toBeUndefined();
  });
});

describe('credentialsFrom, for a Databricks workspace', () => {
  const env = { DATABRICKS_HOST: 'https://x.cloud.databricks.com', DATABRICKS_TOKEN: 'dapi1', MLFLOW_TRACKING_TOKEN: 'other' };
  it("plain databricks: the host and token variables, not MLflow's", () => {
    expect(credentialsFrom(env, 'databricks')).toEqual({
      kind: 'token',
      env: { DATABRICKS_HOST: 'https://x.cloud.databricks.com', DATABRICKS_TOKEN: 'dapi1' },
      label: 'DATABRICKS_HOST and DATABRICKS_TOKEN',
    });
  });
  it('nothing for a profile (the hook reads ~/.databrickscfg itself), or without both variables', () => {
    expect(credentialsFrom(env, 'databricks://dev')).toBeUndefined();
    expect(credentialsFrom({ DATABRICKS_TOKEN: 'dapi1' }, 'databricks')).toBeUndefined();
  });
});

describe('applyCredentials', () => {
  const token = credentialsFrom({ MLFLOW_TRACKING_TOKEN: 'tok-1' })!;

  it('sets the keys, keeps everything else, names keys but never values', () => {
    const input = { model: 'opus', env: { EDITOR: 'vim' } };
    const r = applyCredentials(input, token);
    expect(r.doc).toEqual({ model: 'opus', env: { EDITOR: 'vim', MLFLOW_TRACKING_TOKEN: 'tok-1' } });
    expect(input.env).toEqual({ EDITOR: 'vim' });
    expect(r.changes).toEqual(['set MLFLOW_TRACKING_TOKEN']);
    expect(r.previous).toEqual({
      env: { MLFLOW_TRACKING_TOKEN: null },
      created: { env: false, hooks: true, events: ['Stop', 'SubagentStop', 'StopFailure', 'SessionEnd'] },
    });
  });

  it('an unchanged value is no change; an old one is recorded for uninstall', () => {
    expect(applyCredentials({ env: { MLFLOW_TRACKING_TOKEN: 'tok-1' } }, token).changes).toEqual([]);
    const r = applyCredentials({ env: { MLFLOW_TRACKING_TOKEN: 'old' } }, token);
    expect(r.changes).toEqual(['updated MLFLOW_TRACKING_TOKEN']);
    expect(r.previous.env).toEqual({ MLFLOW_TRACKING_TOKEN: 'old' });
  });

  it('uninstall with the record gives back the file as it was', () => {
    for (const input of [{}, { env: { EDITOR: 'vim' } }, { env: { MLFLOW_TRACKING_TOKEN: 'old' }, hooks: {} }]) {
      const r = applyCredentials(input, token);
      expect(removeTracing(r.doc, r.previous).doc).toEqual(input);
    }
  });

  it('refuses an env that is not an object', () => {
    expect(() => applyCredentials({ env: ['x'] }, token)).toThrow('"env" is not an object');
  });
});

describe('mergePrevious', () => {
  it('the older record wins for the keys it knows; new keys are added', () => {
    const older = {
      env: { MLFLOW_TRACKING_URI: null, MLFLOW_TRACKING_TOKEN: 'first' },
      created: { env: true, hooks: true, events: ['Stop'] },
    };
    const newer = {
      env: { MLFLOW_TRACKING_TOKEN: 'later', MLFLOW_TRACKING_USERNAME: null },
      created: { env: false, hooks: false, events: [] },
    };
    expect(mergePrevious(older, newer)).toEqual({
      env: { MLFLOW_TRACKING_URI: null, MLFLOW_TRACKING_TOKEN: 'first', MLFLOW_TRACKING_USERNAME: null },
      created: older.created,
    });
  });

  it('adds hook events a later version of ours created (an install from before SessionEnd, upgraded by init)', () => {
    const older = { env: { MLFLOW_TRACKING_URI: null }, created: { env: true, hooks: true, events: ['Stop', 'SubagentStop'] } };
    const newer = { env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' }, created: { env: false, hooks: false, events: ['SessionEnd'] } };
    const merged = mergePrevious(older, newer);
    expect(merged.created).toEqual({ env: true, hooks: true, events: ['Stop', 'SubagentStop', 'SessionEnd'] });
    // uninstall then drops the SessionEnd key init added, as it does the others
    const installed = { env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' }, hooks: { Stop: [], SubagentStop: [], SessionEnd: [] } };
    expect(removeTracing(installed, merged).doc).toEqual({});
  });
});

describe('credentialsInUri', () => {
  it('moves user:password@ out of the URI, decoded, and keeps the rest of it as given', () => {
    expect(credentialsInUri('https://alice:p%40ss%3Aw%2Frd@mlflow.example.com:8443/base')).toEqual({
      uri: 'https://mlflow.example.com:8443/base',
      credentials: {
        kind: 'basic',
        env: { MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: 'p@ss:w/rd' },
        label: 'the user name and password in --tracking-uri (as MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)',
      },
    });
    expect(credentialsInUri('http://bob@127.0.0.1:5000')?.credentials.env).toEqual({ MLFLOW_TRACKING_USERNAME: 'bob' });
    expect(credentialsInUri('http://bob@127.0.0.1:5000')?.uri).toBe('http://127.0.0.1:5000');
  });

  it('a URI without them, or not a URL, holds none', () => {
    expect(credentialsInUri('http://127.0.0.1:5000')).toBeUndefined();
    expect(credentialsInUri('databricks')).toBeUndefined();
  });
});
