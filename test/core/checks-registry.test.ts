/** The registry of doctor's checks: the order users see, and the groups it prints them under. */
import { describe, expect, it } from 'vitest';
import { clip } from '../../src/core/checks/format.js';
import { CHECK_IDS, CHECKS, GROUPS } from '../../src/core/checks/registry.js';

describe('the check registry', () => {
  it('lists the checks in the order doctor runs and prints them', () => {
    expect(CHECK_IDS).toEqual([
      'node',
      'hook-runtime',
      'hook-command',
      'hook-starts',
      'python',
      'mlflow-installed',
      'mlflow-version',
      'server',
      'tracking-uri',
      'port',
      'db-lock',
      'db-health',
      'pg-connection',
      'pg-connections',
      'pg-migration',
      'db-size',
      'settings-json',
      'hook-once',
      'foreign-tracer',
      'hooks-enabled',
      'tracing-enabled',
      'settings-env',
      'settings-secrets',
      'service',
      'linger',
      'spool',
      'hook-log',
      'redaction',
      'deep',
    ]);
  });

  it('keeps each group together, in the order of GROUPS, with the deep check last', () => {
    const groupOrder = GROUPS.map((g) => g.id);
    const positions = CHECKS.map((c) => groupOrder.indexOf(c.group));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(CHECKS.filter((c) => c.deep).map((c) => c.id)).toEqual(['deep']);
  });
});

describe('clip', () => {
  it('cuts a long text with an ellipsis and leaves a short one alone', () => {
    expect(clip('abcdef', 3)).toBe('abc…');
    expect(clip('abc', 3)).toBe('abc');
    expect(clip('', 3)).toBe('');
  });
});
