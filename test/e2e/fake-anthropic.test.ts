/**
 * Proves the offline harness: the real Claude Code CLI (pinned in
 * node_modules) talks to the fake Anthropic API, runs a real tool, and writes
 * a real transcript; plus the fake's own protocol, checked over plain HTTP.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installCaptureHooks, listTranscripts, readJsonl, runClaude } from '../helpers/claude-cli.js';
import { startFakeAnthropic, type FakeAnthropic, type RecordedRequest } from '../helpers/fake-anthropic.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const CLI_TIMEOUT = 60_000;

let tmp: TempDir | undefined;
let fake: FakeAnthropic | undefined;

afterEach(async () => {
  await fake?.close();
  await tmp?.cleanup();
  fake = undefined;
  tmp = undefined;
});

async function setup(files: Record<string, string>) {
  tmp = await makeTempDir();
  const home = path.join(tmp.path, 'home');
  const project = path.join(tmp.path, 'project');
  await mkdir(home, { recursive: true });
  await mkdir(project, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(project, name), content);
  return { home, project };
}

/** Every tool_result block in a request's messages. */
function toolResults(req: RecordedRequest): any[] {
  const messages: any[] = req.body?.messages ?? [];
  return messages.flatMap((m) => (Array.isArray(m.content) ? m.content.filter((b: any) => b?.type === 'tool_result') : []));
}

function resultText(block: any): string {
  if (typeof block.content === 'string') return block.content;
  if (Array.isArray(block.content)) return block.content.map((c: any) => c.text ?? '').join('');
  return '';
}

describe('real Claude Code CLI against the fake Anthropic API', () => {
  it(
    'reads notes.txt with the Read tool, sends the tool_result back, and prints the final text',
    async () => {
      const { home, project } = await setup({ 'notes.txt': 'the secret word is pineapple\n' });
      const notes = path.join(project, 'notes.txt');
      fake = await startFakeAnthropic([
        { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: notes } } },
        { text: 'The secret word is pineapple.' },
      ]);

      const res = await runClaude({ cwd: project, home, baseUrl: fake.url, prompt: 'read notes.txt', args: ['--allowedTools', 'Read'] });

      expect(res.timedOut).toBe(false);
      expect(res.exitCode, `${res.command}\nstderr: ${res.stderr}`).toBe(0);
      expect(res.stdout).toContain('The secret word is pineapple.');

      const main = fake.mainRequests();
      expect(main).toHaveLength(2);
      expect(fake.exhausted).toBe(0);
      expect(main[0]!.body.stream).toBe(true);
      expect(main[0]!.body.tools.map((t: any) => t.name)).toContain('Read');
      expect(toolResults(main[0]!)).toHaveLength(0);

      const results = toolResults(main[1]!);
      expect(results).toHaveLength(1);
      expect(results[0].tool_use_id).toBe('toolu_fake_1');
      expect(results[0].is_error ?? false).toBe(false);
      expect(resultText(results[0])).toContain('the secret word is pineapple');

      // The CLI wrote a transcript under $HOME/.claude/projects/<munged cwd>/.
      const transcripts = await listTranscripts(home, project);
      expect(transcripts).toHaveLength(1);
      const rows = await readJsonl(transcripts[0]!);
      const assistant = rows.filter((r) => r.type === 'assistant');
      expect(assistant.map((r) => r.message.id)).toEqual(['msg_fake_1', 'msg_fake_1', 'msg_fake_2']);
      for (const r of assistant) {
        expect(r.message.usage).toMatchObject({ input_tokens: 11, output_tokens: 7, cache_read_input_tokens: 0 });
      }
    },
    CLI_TIMEOUT,
  );

  it(
    'runs project Stop hooks, whose stdin points at the transcript',
    async () => {
      const { home, project } = await setup({});
      const capture = path.join(tmp!.path, 'capture');
      const { stopFile } = await installCaptureHooks(project, capture);
      fake = await startFakeAnthropic([{ text: 'Hello there.' }]);

      const res = await runClaude({ cwd: project, home, baseUrl: fake.url, prompt: 'say hello', args: ['--allowedTools', 'Read'] });
      expect(res.exitCode, res.stderr).toBe(0);
      expect(res.stdout).toContain('Hello there.');

      const stops = await readJsonl(stopFile);
      expect(stops).toHaveLength(1);
      const [transcript] = await listTranscripts(home, project);
      expect(stops[0]).toMatchObject({
        hook_event_name: 'Stop',
        cwd: project,
        transcript_path: transcript,
        last_assistant_message: 'Hello there.',
      });
      expect(path.basename(transcript!, '.jsonl')).toBe(stops[0].session_id);
    },
    CLI_TIMEOUT,
  );
});

describe('fake Anthropic API protocol', () => {
  async function post(url: string, body: unknown): Promise<Response> {
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  function parseSse(text: string): Array<{ event: string; data: any }> {
    return text
      .split('\n\n')
      .filter((chunk) => chunk.trim() !== '')
      .map((chunk) => {
        const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? '';
        const data = JSON.parse(/^data: (.*)$/m.exec(chunk)?.[1] ?? 'null');
        return { event, data };
      });
  }

  it('streams text and several tool_use blocks as SSE', async () => {
    fake = await startFakeAnthropic([
      {
        text: 'Two reads.',
        toolUse: [
          { name: 'Read', input: { file_path: '/a' } },
          { name: 'Read', input: { file_path: '/b' }, id: 'toolu_b' },
        ],
      },
    ]);
    const res = await post(`${fake.url}/v1/messages?beta=true`, { model: 'm', stream: true, tools: [{ name: 'Read' }], messages: [] });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'ping',
      ...['content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop'],
      ...['content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop'],
      ...['content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop'],
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]!.data.message).toMatchObject({
      id: 'msg_fake_1',
      model: 'm',
      usage: { input_tokens: 11, cache_read_input_tokens: 0 },
    });
    const starts = events.filter((e) => e.event === 'content_block_start').map((e) => e.data.content_block);
    expect(starts).toEqual([
      { type: 'text', text: '' },
      { type: 'tool_use', id: 'toolu_fake_1', name: 'Read', input: {} },
      { type: 'tool_use', id: 'toolu_b', name: 'Read', input: {} },
    ]);
    const json = events
      .filter((e) => e.event === 'content_block_delta' && e.data.index === 2)
      .map((e) => e.data.delta.partial_json)
      .join('');
    expect(JSON.parse(json)).toEqual({ file_path: '/b' });
    expect(events.at(-2)!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 7 },
    });
  });

  it('answers non-streaming, side and probe requests without consuming the script', async () => {
    fake = await startFakeAnthropic([{ text: 'scripted' }], { sideText: 'side' });
    // No tools: a side request (title, summary, ...): not scripted.
    const side: any = await (await post(`${fake.url}/v1/messages`, { model: 'haiku', messages: [] })).json();
    expect(side).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'side' }], stop_reason: 'end_turn' });
    expect(side.usage).toEqual({ input_tokens: 11, output_tokens: 7, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
    expect(await (await post(`${fake.url}/v1/messages/count_tokens`, { messages: [] })).json()).toEqual({ input_tokens: 11 });
    expect((await fetch(fake.url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${fake.url}/v1/models`)).status).toBe(200);

    const main: any = await (await post(`${fake.url}/v1/messages`, { model: 'm', tools: [{ name: 'Read' }], messages: [] })).json();
    expect(main.content).toEqual([{ type: 'text', text: 'scripted' }]);
    const again: any = await (await post(`${fake.url}/v1/messages`, { model: 'm', tools: [{ name: 'Read' }], messages: [] })).json();
    expect(again.content[0].text).toContain('script exhausted');
    expect(fake.served).toBe(1);
    expect(fake.exhausted).toBe(1);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/messages',
      'POST /v1/messages/count_tokens',
      'HEAD /',
      'GET /v1/models',
      'POST /v1/messages',
      'POST /v1/messages',
    ]);
  });

  it('serves a function script with the request and its index', async () => {
    fake = await startFakeAnthropic((req, ctx) => ({ text: `#${ctx.index} ${req.body.messages.length}` }));
    const body = { model: 'm', tools: [{ name: 'Read' }], messages: [{ role: 'user', content: 'x' }] };
    expect(((await (await post(`${fake.url}/v1/messages`, body)).json()) as any).content[0].text).toBe('#0 1');
    expect(((await (await post(`${fake.url}/v1/messages`, body)).json()) as any).content[0].text).toBe('#1 1');
  });
});
