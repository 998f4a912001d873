/**
 * A container that stops right after `claude -p`: the detached delivery
 * process dies with it. Our SessionEnd hook holds Claude Code's exit until
 * the session's trace is delivered, so the trace is in MLflow even when
 * every delivery process is killed the moment `claude -p` returns.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClaude } from '../helpers/claude-cli.js';
import { deliveryProcesses, stopDelivery } from '../helpers/delivery.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { printHookCommand, writeTracingSettings } from '../helpers/project-settings.js';
import { useServerAndTmp } from '../helpers/server-and-tmp.js';
import { listedTraces } from '../helpers/trace-visibility.js';

const shared = useServerAndTmp();

describe('SessionEnd', () => {
  it('the trace is in MLflow when claude -p returns, even if the delivery process dies right then', async () => {
    const root = path.join(shared.tmp.path, 'container');
    const home = path.join(root, 'home');
    const dir = path.join(root, 'project');
    const data = path.join(root, 'data');
    await mkdir(home, { recursive: true });
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'notes.txt'), 'hello from the container\n');
    await writeTracingSettings(dir, await printHookCommand(data), {
      MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
      MLFLOW_TRACKING_URI: shared.server.url,
      MLFLOW_EXPERIMENT_NAME: 'session-end',
    });
    const fake = await startFakeAnthropic([
      { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: path.join(dir, 'notes.txt') } } },
      { text: 'notes.txt says: hello from the container' },
    ]);
    try {
      const run = await runClaude({
        cwd: dir,
        home,
        baseUrl: fake.url,
        prompt: 'read notes.txt',
        args: ['--allowedTools', 'Read'],
        env: { CLAUDE_MLFLOW_HOME: data },
      });
      // The container stops: every process of ours dies with it.
      const survivors = deliveryProcesses(data);
      await stopDelivery(data);
      expect(run.exitCode, run.stderr).toBe(0);
      console.log(`claude -p took ${run.durationMs} ms; delivery processes still alive when it returned: ${survivors.length}`);
    } finally {
      await fake.close();
    }
    const listed = await listedTraces(shared.server.url, 'session-end');
    expect(listed).toHaveLength(1);
    expect(listed[0]!.spans).toBe(4);
  });
});
