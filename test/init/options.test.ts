import { describe, expect, it } from 'vitest';
import { resolveAnswers, type InitFlags, type Prompter } from '../../src/init/options.js';
import { CliError } from '../../src/errors.js';

const base: InitFlags = { project: '/home/dev/my-app', service: true, yes: false };

function prompter(overrides: Partial<Prompter> = {}): Prompter & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    scope: async (d) => (asked.push('scope'), overrides.scope ? overrides.scope(d) : d),
    server: async () => (asked.push('server'), overrides.server ? overrides.server() : {}),
    experiment: async (d) => (asked.push('experiment'), overrides.experiment ? overrides.experiment(d) : d),
    port: async (d) => (asked.push('port'), overrides.port ? overrides.port(d) : d),
    service: async (d) => (asked.push('service'), overrides.service ? overrides.service(d) : d),
    confirm: async () => true,
  };
}

describe('resolveAnswers', () => {
  it('takes the defaults under --yes without asking', async () => {
    const p = prompter();
    const answers = await resolveAnswers({ ...base, yes: true }, p);
    expect(answers).toEqual({
      scope: 'project',
      remoteUri: undefined,
      experiment: 'my-app',
      port: 5000,
      portExplicit: false,
      service: true,
    });
    expect(p.asked).toEqual([]);
  });

  it('asks every missing question on a terminal, and flags skip their question', async () => {
    const p = prompter({ scope: async () => 'local', experiment: async () => 'exp' });
    const answers = await resolveAnswers({ ...base, port: '5123' }, p);
    expect(answers).toMatchObject({ scope: 'local', experiment: 'exp', port: 5123, portExplicit: true });
    expect(p.asked).toEqual(['scope', 'server', 'experiment', 'service']);
  });

  it('asks about the service only without --no-service, and takes the answer', async () => {
    const declined = await resolveAnswers(
      { ...base, scope: 'project', experiment: 'e', port: '5001' },
      prompter({ service: async () => false }),
    );
    expect(declined.service).toBe(false);
    const p = prompter();
    const flagged = await resolveAnswers({ ...base, service: false, scope: 'project', experiment: 'e', port: '5001' }, p);
    expect(flagged.service).toBe(false);
    expect(p.asked).not.toContain('service');
  });

  it('does not ask for a port when the server is remote', async () => {
    const p = prompter({ server: async () => ({ remoteUri: 'https://mlflow.example.com' }) });
    const answers = await resolveAnswers(base, p);
    expect(answers.remoteUri).toBe('https://mlflow.example.com');
    expect(p.asked).not.toContain('port');
  });

  it('with no terminal and no --yes, lists the missing flags', async () => {
    const error = await resolveAnswers({ ...base, scope: 'user' }, undefined).catch((e) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('--tracking-uri, --experiment, --port');
    expect(error.message).not.toContain('--scope,');
    expect(error.message).toContain('--yes');
  });

  it('needs no terminal when every answer is a flag', async () => {
    const answers = await resolveAnswers({ ...base, scope: 'user', trackingUri: 'http://10.0.0.5:5000/', experiment: 'e' }, undefined);
    expect(answers).toMatchObject({ scope: 'user', remoteUri: 'http://10.0.0.5:5000', experiment: 'e' });
  });

  it('takes a Databricks workspace: databricks, or databricks://<profile>', async () => {
    expect((await resolveAnswers({ ...base, yes: true, trackingUri: 'databricks' }, undefined)).remoteUri).toBe('databricks');
    expect((await resolveAnswers({ ...base, yes: true, trackingUri: 'Databricks://team/' }, undefined)).remoteUri).toBe(
      'databricks://team',
    );
  });

  it.each([
    [{ scope: 'global' }, /--scope must be project, local or user/],
    [{ port: '70000' }, /--port must be a number from 1 to 65535/],
    [{ port: '50a' }, /--port must be/],
    [{ trackingUri: 'ftp://x' }, /--tracking-uri must be an http\(s\) URL/],
    [{ trackingUri: 'not a url' }, /--tracking-uri must be/],
    [
      { trackingUri: 'databricks://scope:key' },
      /--tracking-uri databricks:\/\/scope:key: a secret-scope URI .* only works inside Databricks/,
    ],
    [{ trackingUri: 'databricks://two words' }, /"two words" is not a profile name/],
    [{ experiment: '  ' }, /--experiment must not be empty/],
  ])('rejects bad flag %o with exit 2', async (flags, message) => {
    const error = await resolveAnswers({ ...base, yes: true, ...flags }, undefined).catch((e) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(message);
  });
});

describe('--server-jobs', () => {
  it('is an answer for the local server: on, off, or (absent) what init chose before', async () => {
    expect(await resolveAnswers({ ...base, yes: true, serverJobs: true }, undefined)).toMatchObject({
      remoteUri: undefined,
      serverJobs: true,
    });
    expect(await resolveAnswers({ ...base, yes: true, serverJobs: false }, undefined)).toMatchObject({ serverJobs: false });
    expect(await resolveAnswers({ ...base, yes: true }, undefined)).not.toHaveProperty('serverJobs');
  });

  it('goes with the local server only: with --tracking-uri, or a remote server answered at the prompt, exit 2', async () => {
    for (const serverJobs of [true, false]) {
      const flag = serverJobs ? '--server-jobs' : '--no-server-jobs';
      await expect(resolveAnswers({ ...base, yes: true, serverJobs, trackingUri: 'http://mlflow:5000' }, undefined)).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringContaining(`${flag} is for the local server`),
      });
      const remote = prompter({ server: async () => ({ remoteUri: 'https://mlflow.example.com' }) });
      await expect(resolveAnswers({ ...base, serverJobs }, remote)).rejects.toMatchObject({ exitCode: 2 });
    }
  });
});

describe('redaction flags', () => {
  it('--no-redact switches it off, --redact back on; patterns and allowed values add to what the config had', async () => {
    const { mergeRedaction, parseRedactionFlags } = await import('../../src/init/options.js');
    expect(parseRedactionFlags({})).toBeUndefined();
    expect(parseRedactionFlags({ redact: false })).toEqual({ enabled: false });
    expect(mergeRedaction({ extraPatterns: ['a'] }, { enabled: false })).toEqual({ extraPatterns: ['a'], enabled: false });
    expect(mergeRedaction({ enabled: false, extraPatterns: ['a'] }, parseRedactionFlags({ redact: true }))).toEqual({
      enabled: true,
      extraPatterns: ['a'],
    });
    expect(
      mergeRedaction({ extraPatterns: ['a'], allow: ['x'] }, parseRedactionFlags({ redactPattern: ['a', 'b'], redactAllow: ['y'] })),
    ).toEqual({ enabled: true, extraPatterns: ['a', 'b'], allow: ['x', 'y'] });
    expect(mergeRedaction({ allow: ['x'] }, undefined)).toEqual({ allow: ['x'] });
  });

  it('a pattern that is not a regular expression: exit 2 before anything is written', async () => {
    const { parseRedactionFlags } = await import('../../src/init/options.js');
    expect(() => parseRedactionFlags({ redactPattern: ['('] })).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--redact-pattern (') }),
    );
  });
});
