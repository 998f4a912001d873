/**
 * A delivery cut at every step. A loopback proxy between the deliverer and a
 * real MLflow server lets the first k requests of one delivery through and
 * cuts the rest, for every k, both before a request reaches the server and
 * after the server answered it. After every cut, MLflow lists either nothing
 * or a trace whose spans load; once the cut is healed, the trace arrives
 * exactly once, complete.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSpoolFiles } from '../../../src/adapters/spool.js';
import { flushSpool } from '../../../src/services/delivery/deliver.js';
import { startCuttingProxy, type CutMode, type CuttingProxy } from '../../helpers/cutting-proxy.js';
import { startMlflowServer, searchTraces, type MlflowServer } from '../../helpers/mlflow-server.js';
import { spoolSample } from '../../helpers/spooled-sample.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { listedTraces } from '../../helpers/trace-visibility.js';

let tmp: TempDir;
let server: MlflowServer;
let proxy: CuttingProxy;
beforeAll(async () => {
  tmp = await makeTempDir();
  server = await startMlflowServer();
  proxy = await startCuttingProxy(server.url);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await tmp?.cleanup();
});

const EXPERIMENT = 'cut-every-step';
let sessions = 0;

/** A fresh data folder (no remembered experiment id: the delivery looks it up) with one spooled trace. */
function spoolOne(): { spool: string; session: string } {
  sessions += 1;
  const session = `00000000-0000-4000-a000-${String(sessions).padStart(12, '0')}`;
  const spool = path.join(tmp.path, `d${sessions}`, 'spool');
  mkdirSync(spool, { recursive: true });
  spoolSample(spool, session, { trackingUri: proxy.url, experiment: { name: EXPERIMENT } });
  return { spool, session };
}

async function deliverOnce(spool: string) {
  return flushSpool(spool, { deadline: Date.now() + 15_000 }, {});
}

describe('a delivery cut after request k, for every k', () => {
  let requestsPerDelivery = 0;

  it('counts the requests of one delivery: experiment look-up, spans, trace row', async () => {
    // The first delivery also creates the experiment.
    expect(await deliverOnce(spoolOne().spool)).toMatchObject({ delivered: 1, remaining: 0, down: false });
    const { spool } = spoolOne();
    const before = proxy.requests;
    expect(await deliverOnce(spool)).toMatchObject({ delivered: 1, remaining: 0, down: false });
    requestsPerDelivery = proxy.requests - before;
    expect(requestsPerDelivery).toBe(3);
  });

  for (const mode of ['before-forwarding', 'after-answering'] as CutMode[]) {
    it(`never lists a trace without its spans, and delivers it exactly once after the cut heals (${mode})`, async () => {
      expect(requestsPerDelivery).toBeGreaterThan(0);
      for (let k = 0; k < requestsPerDelivery; k++) {
        const { spool, session } = spoolOne();
        proxy.cutAfter(k, mode);
        const cut = await deliverOnce(spool);
        proxy.cutAfter(undefined);
        expect(cut, `k=${k}`).toMatchObject({ delivered: 0, remaining: 1, down: true });
        expect(listSpoolFiles(spool), `k=${k}`).toHaveLength(1);

        // Right after the cut: nothing listed for this session, or a trace whose spans load.
        const listed = (await listedTraces(server.url, EXPERIMENT)).filter((t) => t.session === session);
        expect(listed.length, `k=${k}`).toBeLessThanOrEqual(1);
        for (const t of listed) expect(t.spans, `k=${k}: ${t.traceId} is listed without its spans`).toBeGreaterThan(0);

        const healed = await deliverOnce(spool);
        expect(healed, `k=${k}`).toMatchObject({ delivered: 1, remaining: 0 });
        const after = (await listedTraces(server.url, EXPERIMENT)).filter((t) => t.session === session);
        expect(after, `k=${k}`).toHaveLength(1);
        expect(after[0]!.spans, `k=${k}`).toBe(4);
      }
    });
  }

  it('leaves every trace complete: metadata, spans and token usage counted once', async () => {
    const traces = await searchTraces(server, EXPERIMENT);
    expect(traces).toHaveLength(sessions);
    for (const t of traces) {
      expect(t.spans).toHaveLength(4);
      expect(t.info.trace_metadata['mlflow.trace.working_directory'] ?? t.info.trace_metadata['claude_code.host']).toBeDefined();
      expect(t.info.trace_metadata['claude_code.host']).toBe('test-host');
      const usage = JSON.parse(t.info.trace_metadata['mlflow.trace.tokenUsage']!);
      const llmTotal = t.spans
        .filter((s) => s.span_type === 'LLM')
        .reduce((sum, s) => sum + (JSON.parse(JSON.stringify(s.attributes['mlflow.chat.tokenUsage'] ?? {})).total_tokens ?? 0), 0);
      expect(usage.total_tokens).toBe(llmTotal);
    }
  });
});
