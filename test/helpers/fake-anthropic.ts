/**
 * A small fake of the Anthropic Messages API, for driving the real Claude Code
 * CLI offline (ANTHROPIC_BASE_URL=<url>).
 *
 * - `POST /v1/messages` streams SSE (or answers JSON when `stream` is not set)
 *   with scripted turns: plain text, or optional text followed by one or more
 *   tool_use blocks.
 * - Only requests that look like the main conversation (they carry a
 *   non-empty `tools` list) consume the script; anything else (title /
 *   summary / haiku side requests) gets a short text answer.
 * - `POST /v1/messages/count_tokens` and any other request (HEAD, GET, ...)
 *   is answered harmlessly.
 * - Every request is recorded, body parsed, for assertions.
 *
 * Usage numbers are deterministic: message_start carries
 * {input_tokens: 11, output_tokens: 1, cache_*: 0}, message_delta carries
 * {output_tokens: 7}. A non-streaming answer carries output_tokens 7.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export interface ToolUseSpec {
  name: string;
  input: Record<string, unknown>;
  /** Defaults to a deterministic `toolu_fake_<n>` id. */
  id?: string;
}

/** An API error instead of a message: the HTTP status and Anthropic's error body. */
export interface ErrorSpec {
  status: number;
  type: string;
  message: string;
}

export type Turn = (
  | { error: ErrorSpec; text?: undefined; toolUse?: undefined }
  | { text: string; toolUse?: undefined; error?: undefined }
  | {
      /** One tool call, or several tool_use blocks in the same response. */
      toolUse: ToolUseSpec | ToolUseSpec[];
      /** Optional text block before the tool call(s). */
      text?: string;
      error?: undefined;
    }
) & {
  /** Wait this long before answering (a slow model; time to interrupt the turn). */
  delayMs?: number;
};

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON body, or the raw string if it is not JSON, or null when empty. */
  body: any;
  /** True when this request consumed a scripted turn. */
  scripted: boolean;
  /** The turn that was served (scripted or side answer), for POST /v1/messages. */
  turn?: Turn;
  /** The message id the fake answered with, for POST /v1/messages. */
  messageId?: string;
}

export interface ScriptContext {
  /** 0-based index of this request among the scripted (main) requests. */
  index: number;
  /** All recorded requests so far, including this one. */
  requests: RecordedRequest[];
}

export type Script = Turn[] | ((req: RecordedRequest, ctx: ScriptContext) => Turn);

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export interface FakeAnthropicOptions {
  /** Which `POST /v1/messages` requests consume the script. Default: those with a non-empty `tools` array. */
  isMain?: (req: RecordedRequest) => boolean;
  /** Answer to non-main requests. Default: "OK". */
  sideText?: string;
  /** Answer once an array script is exhausted. Default: "(fake-anthropic: script exhausted)". */
  exhaustedText?: string;
  /** Final usage; defaults {input_tokens: 11, output_tokens: 7, cache_read_input_tokens: 0, cache_creation_input_tokens: 0}. */
  usage?: Partial<Usage>;
  /** output_tokens reported in message_start (the real API reports a small number there). Default 1. */
  startOutputTokens?: number;
  /** Model echoed in answers when the request has none. */
  model?: string;
  /** Pause between SSE events, in ms (default 0), to mimic a slow stream. */
  eventDelayMs?: number;
}

export interface FakeAnthropic {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash): use as ANTHROPIC_BASE_URL. */
  url: string;
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Just the `POST /v1/messages` requests that consumed the script. */
  mainRequests(): RecordedRequest[];
  /** How many scripted turns were served (array scripts: also how many were used). */
  readonly served: number;
  /** Scripted requests that arrived after an array script ran out. */
  readonly exhausted: number;
  close(): Promise<void>;
}

export const DEFAULT_USAGE: Usage = {
  input_tokens: 11,
  output_tokens: 7,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

function defaultIsMain(req: RecordedRequest): boolean {
  return Array.isArray(req.body?.tools) && req.body.tools.length > 0;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let buf = Buffer.concat(chunks);
      const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
      try {
        if (enc === 'gzip') buf = zlib.gunzipSync(buf);
        else if (enc === 'deflate') buf = zlib.inflateSync(buf);
        else if (enc === 'br') buf = zlib.brotliDecompressSync(buf);
      } catch {
        /* keep raw */
      }
      resolve(buf);
    });
    req.on('error', reject);
  });
}

function parseBody(buf: Buffer): any {
  if (buf.length === 0) return null;
  const s = buf.toString('utf8');
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'request-id': 'req_fake',
  });
  res.end(body);
}

export async function startFakeAnthropic(script: Script, options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const isMain = options.isMain ?? defaultIsMain;
  const sideText = options.sideText ?? 'OK';
  const exhaustedText = options.exhaustedText ?? '(fake-anthropic: script exhausted)';
  const usage: Usage = { ...DEFAULT_USAGE, ...options.usage };
  const startOutputTokens = options.startOutputTokens ?? 1;
  const requests: RecordedRequest[] = [];
  let scriptIndex = 0;
  let exhausted = 0;
  let messageCounter = 0;
  let toolCounter = 0;

  function nextTurn(rec: RecordedRequest): Turn {
    if (typeof script === 'function') {
      const turn = script(rec, { index: scriptIndex, requests });
      scriptIndex++;
      return turn;
    }
    const turn = script[scriptIndex];
    if (turn === undefined) {
      exhausted++;
      return { text: exhaustedText };
    }
    scriptIndex++;
    return turn;
  }

  function blocksOf(turn: Turn): Block[] {
    const blocks: Block[] = [];
    if (turn.text !== undefined && turn.text !== '') blocks.push({ type: 'text', text: turn.text });
    if (turn.toolUse !== undefined) {
      const uses = Array.isArray(turn.toolUse) ? turn.toolUse : [turn.toolUse];
      for (const u of uses) {
        blocks.push({
          type: 'tool_use',
          id: u.id ?? `toolu_fake_${++toolCounter}`,
          name: u.name,
          input: u.input,
        });
      }
    }
    if (blocks.length === 0) blocks.push({ type: 'text', text: '' });
    return blocks;
  }

  async function handleMessages(rec: RecordedRequest, res: http.ServerResponse): Promise<void> {
    const body = rec.body && typeof rec.body === 'object' ? rec.body : {};
    const main = isMain(rec);
    rec.scripted = main;
    const turn: Turn = main ? nextTurn(rec) : { text: sideText };
    rec.turn = turn;
    if (turn.delayMs) await new Promise((resolve) => setTimeout(resolve, turn.delayMs));
    if (turn.error) {
      sendJson(res, turn.error.status, { type: 'error', error: { type: turn.error.type, message: turn.error.message } });
      return;
    }
    const blocks = blocksOf(turn);
    const stopReason = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
    const id = `msg_fake_${++messageCounter}`;
    rec.messageId = id;
    const model: string = typeof body.model === 'string' ? body.model : (options.model ?? 'claude-fake');

    if (body.stream !== true) {
      sendJson(res, 200, {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: blocks,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { ...usage },
      });
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': 'req_fake',
    });
    const events: Array<[string, unknown]> = [];
    const send = (event: string, data: unknown) => {
      events.push([event, data]);
    };
    send('message_start', {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.input_tokens,
          cache_creation_input_tokens: usage.cache_creation_input_tokens,
          cache_read_input_tokens: usage.cache_read_input_tokens,
          output_tokens: startOutputTokens,
        },
      },
    });
    send('ping', { type: 'ping' });
    blocks.forEach((block, index) => {
      if (block.type === 'text') {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        // Split into two deltas (by code point) to exercise accumulation.
        const chars = Array.from(block.text);
        const half = Math.ceil(chars.length / 2);
        for (const part of [chars.slice(0, half).join(''), chars.slice(half).join('')]) {
          if (part === '') continue;
          send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: part } });
        }
      } else {
        send('content_block_start', {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
        });
        const json = JSON.stringify(block.input);
        const cut = Math.floor(json.length / 2);
        for (const part of [json.slice(0, cut), json.slice(cut)]) {
          if (part === '') continue;
          send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: part } });
        }
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    });
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    });
    send('message_stop', { type: 'message_stop' });
    const delay = options.eventDelayMs ?? 0;
    for (const [event, data] of events) {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (res.destroyed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    }
    res.end();
  }

  const server = http.createServer(async (req, res) => {
    try {
      const buf = await readBody(req);
      const url = req.url ?? '/';
      const path = url.split('?')[0] ?? '/';
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        url,
        headers: req.headers,
        body: parseBody(buf),
        scripted: false,
      };
      requests.push(rec);

      if (rec.method === 'HEAD') {
        res.writeHead(200);
        res.end();
        return;
      }
      if (rec.method === 'POST' && /\/v1\/messages\/count_tokens$/.test(path)) {
        sendJson(res, 200, { input_tokens: usage.input_tokens });
        return;
      }
      if (rec.method === 'POST' && /\/v1\/messages$/.test(path)) {
        await handleMessages(rec, res);
        return;
      }
      if (rec.method === 'GET' && /\/v1\/models/.test(path)) {
        sendJson(res, 200, { data: [], has_more: false, first_id: null, last_id: null });
        return;
      }
      sendJson(res, 200, {});
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: String(err) } });
      else res.end();
    }
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    mainRequests: () => requests.filter((r) => r.scripted),
    get served() {
      return scriptIndex;
    },
    get exhausted() {
      return exhausted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
