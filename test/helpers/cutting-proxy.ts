/**
 * A loopback HTTP proxy in front of a real server that lets the first k
 * requests through and cuts every later one: either before forwarding it
 * (the server never sees it) or after the server answered (the server did
 * the work, the client never hears of it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type CutMode = 'before-forwarding' | 'after-answering';

export interface CuttingProxy {
  url: string;
  /** Requests received so far (cut ones included). */
  readonly requests: number;
  /** Let this many more requests through, then cut every later one; undefined lets everything through. */
  cutAfter(k: number | undefined, mode?: CutMode): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const upstream = new URL(target);
  let received = 0;
  let limit: number | undefined;
  let mode: CutMode = 'before-forwarding';
  const server = http.createServer((req, res) => {
    received += 1;
    const cut = limit !== undefined && received > limit;
    if (cut && mode === 'before-forwarding') {
      req.socket.destroy();
      return;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (cut) {
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return received;
    },
    cutAfter(k, newMode = 'before-forwarding') {
      limit = k === undefined ? undefined : received + k;
      mode = newMode;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
