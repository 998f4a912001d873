import { describe, expect, it } from 'vitest';
import { DEFAULT_TRACKING_URI, isTruthy, resolveHookSettings } from '../../src/core/hook-settings.js';

const ON = { MLFLOW_CLAUDE_TRACING_ENABLED: 'true' };

describe('isTruthy', () => {
  it.each(['true', 'TRUE', 'True', '1', 'yes', 'YES', 'Yes', ' true ', '\tyes\n', '  1'])('%j is on', (value) => {
    expect(isTruthy(value)).toBe(true);
  });

  it.each([undefined, '', ' ', '0', 'false', 'no', 'off', 'on', 'y', 't', 'enabled', '2', 'true1', 'yes please', 't rue', '1.0'])(
    '%j is off',
    (value) => {
      expect(isTruthy(value)).toBe(false);
    },
  );
});

describe('resolveHookSettings', () => {
  it('is enabled only by MLFLOW_CLAUDE_TRACING_ENABLED', () => {
    expect(resolveHookSettings({}, {}).enabled).toBe(false);
    expect(resolveHookSettings({ MLFLOW_CLAUDE_TRACING_ENABLED: ' Yes ' }, {}).enabled).toBe(true);
    expect(resolveHookSettings({ MLFLOW_CLAUDE_TRACING_ENABLED: 'false' }, {}).enabled).toBe(false);
    expect(resolveHookSettings({ MLFLOW_CLAUDE_TRACING_ENABLED: 'off' }, { trackingUri: 'http://x' }).enabled).toBe(false);
  });

  it('defaults to the local tracking server and experiment 0', () => {
    expect(DEFAULT_TRACKING_URI).toBe('http://127.0.0.1:5000');
    expect(resolveHookSettings(ON, {})).toEqual({
      enabled: true,
      trackingUri: 'http://127.0.0.1:5000',
      experiment: { id: '0' },
    });
    // An empty variable counts as unset.
    expect(resolveHookSettings({ MLFLOW_TRACKING_URI: '', MLFLOW_EXPERIMENT_ID: '', MLFLOW_EXPERIMENT_NAME: '' }, {})).toMatchObject({
      trackingUri: 'http://127.0.0.1:5000',
      experiment: { id: '0' },
    });
  });

  it('takes the tracking URI from the environment over the config', () => {
    expect(resolveHookSettings({}, { trackingUri: 'http://config:5000' }).trackingUri).toBe('http://config:5000');
    expect(resolveHookSettings({ MLFLOW_TRACKING_URI: 'http://env:5000' }, { trackingUri: 'http://config:5000' }).trackingUri).toBe(
      'http://env:5000',
    );
    expect(resolveHookSettings({ MLFLOW_TRACKING_URI: '' }, { trackingUri: 'http://config:5000' }).trackingUri).toBe('http://config:5000');
  });

  it('strips trailing slashes from the tracking URI, and only those', () => {
    expect(resolveHookSettings({ MLFLOW_TRACKING_URI: 'http://env:5000/' }, {}).trackingUri).toBe('http://env:5000');
    expect(resolveHookSettings({ MLFLOW_TRACKING_URI: 'https://host/mlflow///' }, {}).trackingUri).toBe('https://host/mlflow');
    expect(resolveHookSettings({}, { trackingUri: 'http://config:5000//' }).trackingUri).toBe('http://config:5000');
    expect(resolveHookSettings({ MLFLOW_TRACKING_URI: 'https://host/a/b' }, {}).trackingUri).toBe('https://host/a/b');
  });

  describe('experiment', () => {
    const config = { experimentId: '7', experimentName: 'from-config' };

    it('uses the config id before the config name', () => {
      expect(resolveHookSettings({}, config).experiment).toEqual({ id: '7' });
      expect(resolveHookSettings({}, { experimentName: 'from-config' }).experiment).toEqual({ name: 'from-config' });
      expect(resolveHookSettings({}, { experimentId: '7' }).experiment).toEqual({ id: '7' });
    });

    it('lets MLFLOW_EXPERIMENT_ID win over everything', () => {
      expect(resolveHookSettings({ MLFLOW_EXPERIMENT_ID: '42' }, config).experiment).toEqual({ id: '42' });
      expect(resolveHookSettings({ MLFLOW_EXPERIMENT_ID: '42', MLFLOW_EXPERIMENT_NAME: 'env-name' }, config).experiment).toEqual({
        id: '42',
      });
    });

    it('lets MLFLOW_EXPERIMENT_NAME win over the config id and name', () => {
      expect(resolveHookSettings({ MLFLOW_EXPERIMENT_NAME: 'env-name' }, config).experiment).toEqual({ name: 'env-name' });
      expect(resolveHookSettings({ MLFLOW_EXPERIMENT_NAME: 'env-name' }, { experimentId: '7' }).experiment).toEqual({
        name: 'env-name',
      });
    });

    it('falls back to the config when the environment variables are empty', () => {
      expect(resolveHookSettings({ MLFLOW_EXPERIMENT_ID: '', MLFLOW_EXPERIMENT_NAME: '' }, config).experiment).toEqual({ id: '7' });
    });
  });
});
