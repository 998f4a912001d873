/** A small HTTP client on node:http(s): fast to load, with a hard timeout. */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  body: string;
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs: number;
  /** A keep-alive agent to reuse connections (keepAliveAgents); default: a new connection per request. */
  agent?: HttpAgent | HttpsAgent;
}

/**
 * Keep-alive agents for a burst of requests to one server (the hook: trace
 * row, then spans): one TCP and TLS handshake instead of one per request.
 * Idle sockets do not keep the process alive.
 */
export interface KeepAliveAgents {
  forUrl(url: string): HttpAgent | HttpsAgent;
  destroy(): void;
}

export function keepAliveAgents(): KeepAliveAgents {
  let http: HttpAgent | undefined;
  let https: HttpsAgent | undefined;
  return {
    forUrl(url: string) {
      if (url.startsWith('https:')) return (https ??= new HttpsAgent({ keepAlive: true, maxSockets: 2 }));
      return (http ??= new HttpAgent({ keepAlive: true, maxSockets: 2 }));
    },
    /** Close every connection; the next request opens a new one. */
    destroy() {
      http?.destroy();
      https?.destroy();
      http = undefined;
      https = undefined;
    },
  };
}

export function httpRequestText(url: string, options: HttpOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new HttpError(`invalid URL: ${url}`));
      return;
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const req = send(target, { method: options.method ?? 'GET', headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new HttpError(`timed out after ${options.timeoutMs} ms: ${options.method ?? 'GET'} ${target.pathname}`));
    }, options.timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** MLflow's own auth variables, as request headers. */
export function authHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.MLFLOW_TRACKING_TOKEN) return { authorization: `Bearer ${env.MLFLOW_TRACKING_TOKEN}` };
  if (env.MLFLOW_TRACKING_USERNAME || env.MLFLOW_TRACKING_PASSWORD) {
    const pair = `${env.MLFLOW_TRACKING_USERNAME ?? ''}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`;
    return { authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
  }
  return {};
}
