/**
 * Corpora for the redaction tests: secrets made fresh on every call, with
 * random values in each provider's format (so that no fixed list can match
 * them), placed where a coding session puts them; and harmless look-alikes.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { TranscriptRow } from '../../src/core/transcript.js';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
export const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const B64URL = `${ALNUM}_-`;

export function pick(set: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += set[randomInt(set.length)];
  return out;
}
const b64url = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Secrets of 30+ kinds, each a fresh random value in its provider's format. */
export function secretCorpus(): Record<string, string> {
  const jwtPart = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return {
    'aws-access-key-id': `AKIA${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`,
    'aws-secret-access-key': pick(`${ALNUM}/+`, 40),
    'github-classic-pat': `ghp_${pick(ALNUM, 36)}`,
    'github-fine-grained-pat': `github_pat_${pick(ALNUM, 22)}_${pick(ALNUM, 59)}`,
    'github-oauth': `gho_${pick(ALNUM, 36)}`,
    'github-app': `ghs_${pick(ALNUM, 36)}`,
    'github-refresh': `ghr_${pick(ALNUM, 36)}`,
    'gitlab-pat': `glpat-${pick(`${ALNUM}_-`, 20)}`,
    'slack-bot': `xoxb-${pick(DIGITS, 12)}-${pick(DIGITS, 13)}-${pick(ALNUM, 24)}`,
    'slack-webhook': `https://hooks.slack.com/services/T${pick(UPPER + DIGITS, 10)}/B${pick(UPPER + DIGITS, 10)}/${pick(ALNUM, 24)}`,
    'openai-project-key': `sk-proj-${pick(B64URL, 74)}T3BlbkFJ${pick(B64URL, 74)}`,
    'anthropic-api-key': `sk-ant-api03-${pick(B64URL, 93)}AA`,
    'anthropic-admin-key': `sk-ant-admin01-${pick(B64URL, 93)}AA`,
    'stripe-secret': `sk_live_${pick(ALNUM, 48)}`,
    'stripe-restricted': `rk_live_${pick(ALNUM, 48)}`,
    'npm-token': `npm_${pick(ALNUM, 36)}`,
    'google-api-key': `AIza${pick(B64URL, 35)}`,
    jwt: `${jwtPart({ alg: 'HS256', typ: 'JWT' })}.${jwtPart({ sub: pick(DIGITS, 10), name: pick(LOWER, 8), iat: randomInt(1e9) })}.${b64url(32)}`,
    'postgres-password': pick(ALNUM, 18),
    'dotenv-password': pick(ALNUM, 16),
    'pem-private-key': `-----BEGIN RSA PRIVATE KEY-----\n${randomBytes(600)
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END RSA PRIVATE KEY-----`,
    'sendgrid-key': `SG.${pick(B64URL, 22)}.${pick(B64URL, 43)}`,
    'twilio-api-key': `SK${pick(HEX, 32)}`,
    'shopify-token': `shpat_${pick(HEX, 32)}`,
    'pypi-token': `pypi-AgEIcHlwaS5vcmc${pick(B64URL, 70)}`,
    'digitalocean-pat': `dop_v1_${pick(HEX, 64)}`,
    'huggingface-token': `hf_${pick(UPPER + LOWER, 34)}`,
    'databricks-token': `dapi${pick(HEX, 32)}`,
    'doppler-token': `dp.pt.${pick(ALNUM, 43)}`,
    'age-secret-key': `AGE-SECRET-KEY-1${pick('QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58)}`,
    'linear-api-key': `lin_api_${pick(ALNUM, 40)}`,
    'json-api-key': pick(ALNUM, 32),
    'mlflow-password-in-env': pick(ALNUM, 20),
    'heroku-api-key': `${pick(HEX, 8)}-${pick(HEX, 4)}-${pick(HEX, 4)}-${pick(HEX, 4)}-${pick(HEX, 12)}`,
  };
}

/** A turn that puts every secret where a session would. */
export function sessionWithSecrets(s: Record<string, string>): TranscriptRow[] {
  let t = Date.parse('2026-11-30T10:00:00Z');
  const ts = (): string => new Date((t += 100)).toISOString();
  const envFile = [
    '# app settings',
    `AWS_ACCESS_KEY_ID=${s['aws-access-key-id']}`,
    `AWS_SECRET_ACCESS_KEY=${s['aws-secret-access-key']}`,
    `GITHUB_TOKEN=${s['github-classic-pat']}`,
    `OPENAI_API_KEY=${s['openai-project-key']}`,
    `ANTHROPIC_API_KEY=${s['anthropic-api-key']}`,
    `STRIPE_KEY=${s['stripe-secret']}`,
    `SLACK_WEBHOOK=${s['slack-webhook']}`,
    `DATABASE_URL=postgresql://app:${s['postgres-password']}@db.internal:5432/app`,
    `PASSWORD=${s['dotenv-password']}`,
    `SENDGRID=${s['sendgrid-key']}`,
    `HF=${s['huggingface-token']}`,
    `DATABRICKS=${s['databricks-token']}`,
    `DOPPLER=${s['doppler-token']}`,
    `LINEAR=${s['linear-api-key']}`,
    `HEROKU_API_KEY=${s['heroku-api-key']}`,
    s['pem-private-key'],
    'PORT=8080',
  ].join('\n');
  const diff = `--- a/config.js\n+++ b/config.js\n@@ -1,3 +1,3 @@\n-const token = process.env.NPM_TOKEN;\n+const token = '${s['npm-token']}';\n+const gitlab = '${s['gitlab-pat']}';\n+const google = '${s['google-api-key']}';\n`;
  const use = (id: string, name: string, input: unknown): TranscriptRow => ({
    type: 'assistant',
    uuid: `a-${id}`,
    timestamp: ts(),
    message: {
      id: `m-${id}`,
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'tool_use', id, name, input }],
      usage: { input_tokens: 1, output_tokens: 1 },
    },
  });
  const result = (id: string, content: string, isError = false): TranscriptRow => ({
    type: 'user',
    uuid: `r-${id}`,
    timestamp: ts(),
    message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content, ...(isError ? { is_error: true } : {}) }] },
  });
  return [
    {
      type: 'user',
      uuid: 'p',
      timestamp: ts(),
      message: { role: 'user', content: `deploy with my token ${s['github-fine-grained-pat']} and the JWT ${s.jwt}` },
    },
    use('t1', 'Bash', {
      command: `curl -H "Authorization: token ${s['github-oauth']}" https://api.github.com/user && npm publish --otp 123456 //registry.npmjs.org/:_authToken=${s['npm-token']}`,
    }),
    result('t1', 'ok'),
    use('t2', 'Read', { file_path: '/app/.env' }),
    result('t2', envFile),
    use('t3', 'Edit', { file_path: '/app/config.js', old_string: 'x', new_string: diff }),
    result('t3', diff),
    use('t4', 'mcp__deploy__push', {
      config: { api_key: s['json-api-key'], region: 'eu-west-1' },
      twilio: s['twilio-api-key'],
      shopify: s['shopify-token'],
    }),
    result('t4', `auth failed for key ${s['anthropic-admin-key']} (app ${s['github-app']}, refresh ${s['github-refresh']})`, true),
    use('t5', 'Bash', {
      command: `echo ${s['slack-bot']} ${s['stripe-restricted']} ${s['pypi-token']} ${s['digitalocean-pat']} ${s['age-secret-key']} ${s['aws-access-key-id']}`,
    }),
    result('t5', `MLFLOW_TRACKING_PASSWORD is ${s['mlflow-password-in-env']}`),
    {
      type: 'assistant',
      uuid: 'final',
      timestamp: ts(),
      message: {
        id: 'm-final',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: 'done' }],
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    },
  ];
}

/** Things that look like secrets and are not. */
export function harmlessCorpus(): string[] {
  const uuid = (): string => `${pick(HEX, 8)}-${pick(HEX, 4)}-4${pick(HEX, 3)}-a${pick(HEX, 3)}-${pick(HEX, 12)}`;
  return [
    `commit ${pick(HEX, 40)}`,
    `git checkout ${pick(HEX, 7)}`,
    `session ${uuid()}`,
    `"integrity": "sha512-${randomBytes(64).toString('base64')}"`,
    `"resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz"`,
    `<img src="data:image/png;base64,iVBORw0KGgo${randomBytes(300).toString('base64')}">`,
    'const averyLongIdentifierNameThatDescribesTheTokenizerConfigurationForTheModel = 1;',
    '/home/dev/project/src/services/delivery/token-refresh.test.ts',
    'it("returns the token count", () => expect(countTokens("hello")).toBe(2));',
    'max_tokens: 4096',
    'tokenizer=cl100k_base',
    'password_reset_url = "/account/reset"',
    'const password = process.env.DB_PASSWORD;',
    'PASSWORD=${DB_PASSWORD}',
    'api_key: <your-api-key>',
    '"token": "***"',
    'The fixture mentions the word token, and secret, and password, several times.',
    `sha256:${pick(HEX, 64)}`,
    `request id req_${pick(ALNUM, 24)}`,
    'export PATH=/usr/local/bin:/usr/bin:/bin',
    'passwordless login is enabled',
    'https://github.com/anthropics/claude-code/blob/main/README.md',
  ];
}
