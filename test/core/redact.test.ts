/**
 * Redaction against a corpus of secrets made fresh on every run, with
 * random values in each provider's format (so no fixed list can match them),
 * placed where a coding session puts them: a Bash command line, a Read
 * result, an Edit diff, JSON tool input, the user's prompt and a tool error.
 * And a corpus of harmless look-alikes that must survive untouched.
 */
import { describe, expect, it } from 'vitest';
import { loadedRuleCount, redactText, redactTrace, shannonEntropy } from '../../src/core/redact.js';
import { traceFromRows } from '../../src/core/transcript.js';
import { ALNUM, harmlessCorpus, pick, secretCorpus, sessionWithSecrets } from '../helpers/secrets-corpus.js';

describe('redaction: the secrets corpus', () => {
  it(`loads gitleaks' rules, compiled once`, () => {
    expect(loadedRuleCount()).toBeGreaterThan(200);
  });

  it('no secret of 30+ kinds survives into the trace, wherever the session put it', () => {
    for (let round = 0; round < 5; round++) {
      const secrets = secretCorpus();
      expect(Object.keys(secrets).length).toBeGreaterThanOrEqual(30);
      const trace = traceFromRows(sessionWithSecrets(secrets), { sessionId: 's', user: 'dev' })!;
      const before = JSON.stringify(trace);
      for (const value of Object.values(secrets)) expect(before).toContain(JSON.stringify(value).slice(1, -1).split('\\n')[0]);
      const { trace: redacted, counts } = redactTrace(trace, { knownSecrets: [secrets['mlflow-password-in-env']!] });
      const after = JSON.stringify(redacted);
      const survivors = Object.entries(secrets).filter(([, v]) =>
        v.split('\n').some((line) => line.length >= 8 && !line.startsWith('-----') && after.includes(JSON.stringify(line).slice(1, -1))),
      );
      expect(survivors.map(([k]) => k)).toEqual([]);
      // The ordinary lines stay readable.
      expect(after).toContain('PORT=8080');
      expect(after).toContain('# app settings');
      expect(after).toContain('eu-west-1');
      expect(after).toContain('[REDACTED:');
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(30);
    }
  });
});

describe('redaction: the harmless corpus', () => {
  it('survives untouched (the false-positive rate is printed)', () => {
    let changed = 0;
    let total = 0;
    const failures: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (const text of harmlessCorpus()) {
        total++;
        if (redactText(text) !== text) {
          changed++;
          failures.push(`${text.slice(0, 80)} → ${redactText(text).slice(0, 80)}`);
        }
      }
    }
    console.log(`harmless corpus: ${changed} of ${total} changed (false-positive rate ${((100 * changed) / total).toFixed(1)}%)`);
    expect(failures).toEqual([]);
  });

  it('entropy: a random key is high, a word is low', () => {
    expect(shannonEntropy(pick(ALNUM, 40))).toBeGreaterThan(4.5);
    expect(shannonEntropy('aaaaaaaa')).toBe(0);
  });

  it('allowed values and extra patterns are the user’s to set', () => {
    const value = `ghp_${pick(ALNUM, 36)}`;
    expect(redactText(`x ${value}`, { allow: [value] })).toBe(`x ${value}`);
    expect(redactText('ticket ACME-SECRET-1234 open', { extraPatterns: ['ACME-SECRET-\\d+'] })).toBe('ticket [REDACTED:custom] open');
  });
});
