import { describe, expect, it } from 'vitest';
import {
  isDatabricksUri,
  normalizeHost,
  parseDatabricksUri,
  parseIni,
  resolveDatabricksAuth,
  workspaceExperimentPath,
} from '../../src/core/databricks.js';

const CFG = '~/.databrickscfg';

describe('parseDatabricksUri', () => {
  it('takes databricks and databricks://<profile>', () => {
    expect(isDatabricksUri('databricks')).toBe(true);
    expect(isDatabricksUri('Databricks://dev')).toBe(true);
    expect(isDatabricksUri('https://databricks.example.com')).toBe(false);
    expect(parseDatabricksUri('databricks')).toEqual({});
    expect(parseDatabricksUri('databricks://')).toEqual({});
    expect(parseDatabricksUri('databricks://dev')).toEqual({ profile: 'dev' });
    expect(parseDatabricksUri('databricks://my-team.prod/')).toEqual({ profile: 'my-team.prod' });
  });

  it('refuses a secret-scope URI and names that are not profile names', () => {
    expect(parseDatabricksUri('databricks://scope:prefix')).toMatchObject({
      error: expect.stringContaining('only works inside Databricks'),
    });
    expect(parseDatabricksUri('databricks://a b')).toMatchObject({ error: '"a b" is not a profile name' });
    expect(parseDatabricksUri('databricksx')).toMatchObject({ error: expect.any(String) });
  });
});

describe('parseIni', () => {
  it('reads sections, = and : pairs, comments, and lower-cases keys', () => {
    const text =
      '# comment\n[DEFAULT]\nhost = https://a.cloud.databricks.com\nToken=dapi1\n\n; other\n[dev]\nhost: b.cloud.databricks.com\r\ntoken = dapi2 \n';
    expect(parseIni(text)).toEqual({
      DEFAULT: { host: 'https://a.cloud.databricks.com', token: 'dapi1' },
      dev: { host: 'b.cloud.databricks.com', token: 'dapi2' },
    });
  });
});

describe('resolveDatabricksAuth', () => {
  const cfgText =
    '[DEFAULT]\nhost = a.cloud.databricks.com/\ntoken = dapiA\n[dev]\nhost = https://b.cloud.databricks.com\ntoken = dapiB\n[oauth]\nhost = https://c.cloud.databricks.com\nauth_type = databricks-cli\n[m2m]\nhost = https://d\nclient_id = x\nclient_secret = y\n[nohost]\ntoken = t\n';

  it('plain databricks: DATABRICKS_HOST and DATABRICKS_TOKEN first', () => {
    const env = { DATABRICKS_HOST: 'e.cloud.databricks.com', DATABRICKS_TOKEN: 'dapiE' };
    expect(resolveDatabricksAuth({ uri: {}, env, cfgText, cfgPath: CFG })).toEqual({
      host: 'https://e.cloud.databricks.com',
      token: 'dapiE',
      source: 'DATABRICKS_HOST and DATABRICKS_TOKEN',
    });
  });

  it('plain databricks without both variables: the DEFAULT profile, or DATABRICKS_CONFIG_PROFILE', () => {
    expect(resolveDatabricksAuth({ uri: {}, env: { DATABRICKS_HOST: 'only-host' }, cfgText, cfgPath: CFG })).toMatchObject({
      host: 'https://a.cloud.databricks.com',
      token: 'dapiA',
    });
    expect(resolveDatabricksAuth({ uri: {}, env: { DATABRICKS_CONFIG_PROFILE: 'dev' }, cfgText, cfgPath: CFG })).toMatchObject({
      token: 'dapiB',
      source: `profile [dev] of ${CFG}`,
    });
  });

  it('a named profile wins over the variables', () => {
    const env = { DATABRICKS_HOST: 'e', DATABRICKS_TOKEN: 'dapiE' };
    expect(resolveDatabricksAuth({ uri: { profile: 'dev' }, env, cfgText, cfgPath: CFG })).toMatchObject({
      host: 'https://b.cloud.databricks.com',
      token: 'dapiB',
    });
  });

  it('says why when there is nothing to sign in with', () => {
    expect(resolveDatabricksAuth({ uri: { profile: 'dev' }, env: {}, cfgPath: CFG })).toEqual({
      error: `${CFG} does not exist, so it has no profile [dev]`,
    });
    expect(resolveDatabricksAuth({ uri: {}, env: {}, cfgPath: CFG })).toEqual({
      error: `${CFG} does not exist, so it has no profile [DEFAULT], or set DATABRICKS_HOST and DATABRICKS_TOKEN`,
    });
    expect(resolveDatabricksAuth({ uri: { profile: 'gone' }, env: {}, cfgText, cfgPath: CFG })).toEqual({
      error: `${CFG} has no profile [gone]`,
    });
    expect(resolveDatabricksAuth({ uri: { profile: 'nohost' }, env: {}, cfgText, cfgPath: CFG })).toEqual({
      error: `profile [nohost] of ${CFG} has no host`,
    });
    expect(resolveDatabricksAuth({ uri: { profile: 'oauth' }, env: {}, cfgText, cfgPath: CFG })).toMatchObject({
      error: expect.stringContaining('has no personal access token (databricks-cli)'),
    });
    expect(resolveDatabricksAuth({ uri: { profile: 'm2m' }, env: {}, cfgText, cfgPath: CFG })).toMatchObject({
      error: expect.stringContaining('(OAuth)'),
    });
  });
});

describe('helpers', () => {
  it('normalizeHost adds https:// and drops trailing slashes; http is kept', () => {
    expect(normalizeHost(' x.cloud.databricks.com// ')).toBe('https://x.cloud.databricks.com');
    expect(normalizeHost('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
  });

  it("a bare experiment name goes into the user's folder; a workspace path stays", () => {
    expect(workspaceExperimentPath('claude-code', 'dev@example.com')).toBe('/Users/dev@example.com/claude-code');
    expect(workspaceExperimentPath('/Shared/team', 'dev@example.com')).toBe('/Shared/team');
  });
});
