// A TCP proxy on loopback that adds network latency: each direction is held
// back by half the round-trip time, in order, and the first bytes of every
// connection wait one more round trip (the TCP handshake a real remote server
// costs, which loopback does not). Used where `tc netem` is not available.
import net from 'node:net';
import { listenOnLoopback } from './lib.mjs';

/**
 * A pipe that delivers every chunk `delayMs` after it arrived, the first one
 * `firstExtraMs` later still. One queue a direction, drained in order, so
 * that the end of the stream never overtakes its last bytes.
 * @param {net.Socket} from
 * @param {net.Socket} to
 * @param {number} delayMs
 * @param {number} firstExtraMs
 */
function delayedPipe(from, to, delayMs, firstExtraMs) {
  /** @type {{ chunk: Buffer | undefined, due: number }[]} */
  const queue = [];
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  let first = true;
  const drain = () => {
    timer = undefined;
    while (queue.length > 0 && queue[0].due <= Date.now()) {
      const item = /** @type {(typeof queue)[number]} */ (queue.shift());
      if (to.destroyed) return;
      if (item.chunk) to.write(item.chunk);
      else to.end();
    }
    if (queue.length > 0) timer = setTimeout(drain, queue[0].due - Date.now());
  };
  const push = (/** @type {Buffer | undefined} */ chunk) => {
    const extra = first ? firstExtraMs : 0;
    first = false;
    const last = queue.length > 0 ? queue[queue.length - 1].due : 0;
    queue.push({ chunk, due: Math.max(Date.now() + delayMs + extra, last) });
    if (!timer) timer = setTimeout(drain, Math.max(0, queue[0].due - Date.now()));
  };
  from.on('data', (chunk) => push(chunk));
  from.on('end', () => push(undefined));
  from.on('error', () => push(undefined));
}

/**
 * Listen on a free loopback port and forward to `target` ({host, port}) with `rttMs` added.
 * @param {{ host: string, port: number }} target
 * @param {number} rttMs
 */
export function startDelayProxy(target, rttMs) {
  /** @type {Set<net.Socket>} */
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    for (const s of [client, upstream]) s.on('close', () => sockets.delete(s));
    delayedPipe(client, upstream, rttMs / 2, rttMs);
    delayedPipe(upstream, client, rttMs / 2, 0);
  });
  return listenOnLoopback(server, sockets);
}
