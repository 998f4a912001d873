/**
 * The built hook redacts before it writes: the spool file on disk holds the
 * redacted trace, the hook log counts the redactions by kind (never a value),
 * the secret-named variables of the hook's environment are found anywhere,
 * and `redaction.enabled: false` in config.json switches it off.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopDelivery } from '../helpers/delivery.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { runHookMeasured, runHookProcess } from '../helpers/run-hook-process.js';
import { secretCorpus, sessionWithSecrets } from '../helpers/secrets-corpus.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  for (const name of ['on', 'off', 'big']) await stopDelivery(path.join(tmp.path, name));
  await tmp?.cleanup();
});

/** Run the hook on a session holding every secret of a fresh corpus; nothing listens on port 9, so the trace stays in the spool. */
async function spoolSession(name: string, config?: object) {
  const data = path.join(tmp.path, name);
  mkdirSync(data, { recursive: true });
  if (config) writeFileSync(path.join(data, 'config.json'), JSON.stringify(config));
  const secrets = secretCorpus();
  const transcript = path.join(tmp.path, `${name}.jsonl`);
  writeFileSync(
    transcript,
    sessionWithSecrets(secrets)
      .map((r) => JSON.stringify({ ...r, sessionId: name }))
      .join('\n') + '\n',
  );
  const stdin = JSON.stringify({
    session_id: name,
    transcript_path: transcript,
    cwd: tmp.path,
    hook_event_name: 'Stop',
    last_assistant_message: 'done',
  });
  const env = makeHookEnv(
    { home: tmp.path, dataRoot: data, trackingUri: 'http://127.0.0.1:9' },
    { MLFLOW_TRACKING_PASSWORD: secrets['mlflow-password-in-env']! },
  );
  const run = await runHookProcess(stdin, env);
  expect(run.exitCode).toBe(0);
  const spool = path.join(data, 'spool');
  const [file] = readdirSync(spool).filter((f) => f.endsWith('.trace.json'));
  const logFile = path.join(data, 'logs', 'hook.log');
  return { secrets, spooled: readFileSync(path.join(spool, file!), 'utf8'), log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '' };
}

/** The secrets whose value (or a line of it) is in `text`. */
function found(secrets: Record<string, string>, text: string): string[] {
  return Object.entries(secrets)
    .filter(([, v]) =>
      v.split('\n').some((line) => line.length >= 8 && !line.startsWith('-----') && text.includes(JSON.stringify(line).slice(1, -1))),
    )
    .map(([k]) => k);
}

describe('redaction in the hook', () => {
  it('the spool file holds the redacted trace; the log counts by kind, never a value', async () => {
    const { secrets, spooled, log } = await spoolSession('on');
    expect(found(secrets, spooled)).toEqual([]);
    expect(spooled).toContain('[REDACTED:');
    expect(spooled).toContain('PORT=8080');
    expect(log).toMatch(/info \d+ secrets redacted \(.*jwt ×\d.*url-password ×\d\) in trace tr-[0-9a-f]{32}/);
    expect(found(secrets, log)).toEqual([]);
  });

  it('redaction.enabled: false in config.json switches it off', async () => {
    const { secrets, spooled } = await spoolSession('off', { redaction: { enabled: false } });
    expect(found(secrets, spooled).length).toBeGreaterThan(25);
  });

  it('a tool output of 5 MB: cut to 64 KB with a marker, within the cap, in bounded memory', async () => {
    const data = path.join(tmp.path, 'big');
    mkdirSync(data, { recursive: true });
    const transcript = path.join(tmp.path, 'big.jsonl');
    const text = Array.from({ length: 80_000 }, (_, i) => `line ${i}: const value${i} = compute(${i}); // ordinary output`).join('\n');
    const rows = [
      {
        type: 'user',
        uuid: 'p',
        sessionId: 'big',
        timestamp: '2026-11-30T10:00:00.000Z',
        message: { role: 'user', content: 'read the log' },
      },
      {
        type: 'assistant',
        uuid: 'a',
        sessionId: 'big',
        timestamp: '2026-11-30T10:00:01.000Z',
        message: {
          id: 'm1',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [{ type: 'tool_use', id: 't1', name: 'Read', input: { file_path: '/p/big.log' } }],
          usage: { input_tokens: 1, output_tokens: 1 },
        },
      },
      {
        type: 'user',
        uuid: 'r',
        sessionId: 'big',
        timestamp: '2026-11-30T10:00:02.000Z',
        message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: text }] },
      },
      {
        type: 'assistant',
        uuid: 'f',
        sessionId: 'big',
        timestamp: '2026-11-30T10:00:03.000Z',
        message: {
          id: 'm2',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [{ type: 'text', text: 'read it' }],
          usage: { input_tokens: 1, output_tokens: 1 },
        },
      },
    ];
    writeFileSync(transcript, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const stdin = JSON.stringify({
      session_id: 'big',
      transcript_path: transcript,
      cwd: tmp.path,
      hook_event_name: 'Stop',
      last_assistant_message: 'read it',
    });
    const run = await runHookMeasured(stdin, makeHookEnv({ home: tmp.path, dataRoot: data, trackingUri: 'http://127.0.0.1:9' }), tmp.path);
    expect(run.exitCode).toBe(0);
    expect(run.wallMs).toBeLessThan(2000);
    console.log(
      `5 MB tool output (${(text.length / 1e6).toFixed(1)} MB): hook ${Math.round(run.wallMs)} ms, peak RSS ${run.peakRssMb.toFixed(0)} MB`,
    );
    const spool = path.join(data, 'spool');
    const [file] = readdirSync(spool).filter((f) => f.endsWith('.trace.json'));
    const record = JSON.parse(readFileSync(path.join(spool, file!), 'utf8'));
    const tool = record.trace.spans.find((s: { name: string }) => s.name === 'tool_Read');
    expect(Buffer.byteLength(JSON.stringify(tool.outputs))).toBeLessThanOrEqual(64 * 1024);
    expect(tool.outputs.result).toMatch(/\[cut \d+ of \d+ characters\]$/);
    expect(tool.outputs.result.startsWith('line 0: const value0')).toBe(true);
  });
});
