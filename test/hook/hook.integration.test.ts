/**
 * The built hook runtime against a real `mlflow server`: once its delivery
 * process has sent the spool, the trace is found through MLflow's own search
 * API with the right span tree and metadata.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stopDelivery, waitForSpoolEmpty } from '../helpers/delivery.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { searchTraces } from '../helpers/mlflow-server.js';
import { useServerAndTmp } from '../helpers/server-and-tmp.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { sampleStopInput, sampleWithSession } from '../helpers/fixtures.js';
import { cachedExperimentId, experimentCacheFileIn, rememberExperimentId } from '../../src/adapters/experiment-cache.js';

const shared = useServerAndTmp();

function hookEnv(dataRoot: string, extra: Record<string, string> = {}): Record<string, string> {
  return makeHookEnv({ home: shared.tmp.path, dataRoot, trackingUri: shared.server.url }, extra);
}

describe('hook → real MLflow server', () => {
  it('delivers the sample session as MLflow’s Claude Code span tree', async () => {
    const dir = path.join(shared.tmp.path, 'sample');
    mkdirSync(dir);
    const { stdin } = sampleStopInput(dir);
    const data = path.join(dir, 'data');
    const result = await runHookProcess(stdin, hookEnv(data, { MLFLOW_EXPERIMENT_NAME: 'hook-it' }));
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('');
    await waitForSpoolEmpty(data);

    const traces = await searchTraces(shared.server, 'hook-it');
    expect(traces).toHaveLength(1);
    const trace = traces[0]!;
    expect(trace.info.state).toBe('OK');
    expect(trace.info.request_preview).toBe('read notes.txt');
    expect(trace.info.response_preview).toBe('The file says hello. Done.');
    expect(trace.info.trace_metadata).toMatchObject({
      'mlflow.trace.session': '905e7d5e-ff87-48ae-a08f-68f31e6c4d84',
      'mlflow.trace.user': 'dev',
      'mlflow.trace.working_directory': '/home/dev/project',
      'mlflow.claude_code_version': '2.1.197',
      'claude_code.host': os.hostname(),
    });
    const usage = JSON.parse(trace.info.trace_metadata['mlflow.trace.tokenUsage']!);
    expect(usage).toMatchObject({ input_tokens: 84, output_tokens: 14, total_tokens: 98 });

    const [root, ...children] = trace.spans;
    expect(root).toMatchObject({
      name: 'claude_code_conversation',
      span_type: 'AGENT',
      parent_id: null,
      inputs: { prompt: 'read notes.txt' },
      outputs: { status: 'completed', response: 'The file says hello. Done.' },
    });
    expect(children.map((s) => [s.name, s.span_type])).toEqual([
      ['llm', 'LLM'],
      ['tool_Read', 'TOOL'],
      ['llm', 'LLM'],
    ]);
    for (const child of children) expect(child.parent_id).toBe(root!.span_id);
    const tool = children[1]!;
    expect(tool.inputs).toEqual({ file_path: '/home/dev/project/notes.txt' });
    expect(tool.outputs.result).toContain('hello world');
    const llm = children[0]!;
    expect(llm.attributes['mlflow.chat.tokenUsage']).toMatchObject({ input_tokens: 42, output_tokens: 7 });
    expect(llm.attributes['mlflow.message.format']).toBe('anthropic');
    expect(llm.inputs.model).toBe('claude-opus-4-8');
    // True times from the transcript: the prompt at 20:56:49.984 UTC.
    expect(root!.start_ns / 1e6).toBe(Date.parse('2026-11-23T20:56:49.984Z'));
    expect(Math.round(tool.start_ns / 1e6)).toBeLessThanOrEqual(Math.round(tool.end_ns / 1e6));
  });

  it('sends the same turn twice without a duplicate trace or doubled token usage', async () => {
    const dir = path.join(shared.tmp.path, 'twice');
    mkdirSync(dir);
    const { stdin } = sampleStopInput(dir);
    const data = path.join(dir, 'data');
    const env = hookEnv(data, { MLFLOW_EXPERIMENT_NAME: 'hook-twice' });
    // The second send comes after the first is on the server.
    expect((await runHookProcess(stdin, env)).exitCode).toBe(0);
    await waitForSpoolEmpty(data);
    expect((await runHookProcess(stdin, env)).exitCode).toBe(0);
    await waitForSpoolEmpty(data);
    const traces = await searchTraces(shared.server, 'hook-twice');
    expect(traces).toHaveLength(1);
    expect(traces[0]!.spans).toHaveLength(4);
    expect(JSON.parse(traces[0]!.info.trace_metadata['mlflow.trace.tokenUsage']!).total_tokens).toBe(98);
  });

  it('remembers the experiment id, and forgets one the server no longer takes', async () => {
    const dir = path.join(shared.tmp.path, 'cache');
    mkdirSync(dir);
    const data = path.join(dir, 'data');
    const env = hookEnv(data, { MLFLOW_EXPERIMENT_NAME: 'hook-cache' });
    expect((await runHookProcess(sampleStopInput(dir).stdin, env)).exitCode).toBe(0);
    await waitForSpoolEmpty(data);
    const cacheFile = experimentCacheFileIn(path.join(data, 'spool'));
    const id = cachedExperimentId(cacheFile, shared.server.url, 'hook-cache');
    expect(id).toMatch(/^\d+$/);

    // An id from elsewhere (an experiment since deleted for good): the hook looks the name up again.
    rememberExperimentId(cacheFile, shared.server.url, 'hook-cache', '987654321');
    const other = path.join(dir, 'other');
    mkdirSync(other);
    const result = await runHookProcess(sampleWithSession(other, '11111111-2222-4333-8444-555555555555').stdin, env);
    expect(result.exitCode).toBe(0);
    await waitForSpoolEmpty(data);
    expect(readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json'))).toEqual([]);
    expect(cachedExperimentId(cacheFile, shared.server.url, 'hook-cache')).toBe(id);
    expect(await searchTraces(shared.server, 'hook-cache')).toHaveLength(2);
  });

  it('resolves an experiment by id', async () => {
    const dir = path.join(shared.tmp.path, 'by-id');
    mkdirSync(dir);
    const id = (await shared.server.python('import mlflow; print(mlflow.create_experiment("hook-by-id"))')).trim();
    const { stdin } = sampleStopInput(dir);
    const data = path.join(dir, 'data');
    expect((await runHookProcess(stdin, hookEnv(data, { MLFLOW_EXPERIMENT_ID: id }))).exitCode).toBe(0);
    await waitForSpoolEmpty(data);
    expect(await searchTraces(shared.server, id)).toHaveLength(1);
  });

  it('does nothing when tracing is not switched on', async () => {
    for (const value of ['false', '0', 'no', 'off', '']) {
      const dir = path.join(shared.tmp.path, `off-${value || 'empty'}`);
      mkdirSync(dir);
      const { stdin } = sampleStopInput(dir);
      const data = path.join(dir, 'data');
      const result = await runHookProcess(
        stdin,
        hookEnv(data, { MLFLOW_CLAUDE_TRACING_ENABLED: value, MLFLOW_EXPERIMENT_NAME: 'hook-off' }),
      );
      expect(result.exitCode).toBe(0);
      expect(() => statSync(data)).toThrow();
    }
    const exists = await shared.server.python('import mlflow; print(mlflow.get_experiment_by_name("hook-off") is not None)');
    expect(exists.trim()).toBe('False');
  });

  it('keeps spool and log files private', async () => {
    const dir = path.join(shared.tmp.path, 'private');
    mkdirSync(dir);
    const { stdin } = sampleStopInput(dir);
    const data = path.join(dir, 'data');
    try {
      expect((await runHookProcess(stdin, hookEnv(data, { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' }))).exitCode).toBe(0);
      const spool = path.join(data, 'spool');
      expect(statSync(spool).mode & 0o777).toBe(0o700);
      const files = readdirSync(spool).filter((f) => f.endsWith('.trace.json'));
      expect(files).toHaveLength(1);
      expect(statSync(path.join(spool, files[0]!)).mode & 0o777).toBe(0o600);
      // The log line comes from the delivery process, which fails to connect and keeps the trace.
      const log = path.join(data, 'logs', 'hook.log');
      const until = Date.now() + 30_000;
      const failed = (): boolean => {
        try {
          return /error delivery failed, 1 trace\(s\) wait in the spool: .*ECONNREFUSED/.test(readFileSync(log, 'utf8'));
        } catch {
          return false;
        }
      };
      while (!failed() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(failed()).toBe(true);
      expect(statSync(log).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(spool, '.delivery.json')).mode & 0o777).toBe(0o600);
    } finally {
      await stopDelivery(data);
    }
  });
});
