/**
 * The local server's URL, as a client on this machine reaches it (a server
 * bound to every address is reached on 127.0.0.1). A module of its own, light
 * (no service managers, no execa): doctor builds the URL before anything
 * heavy is loaded, and every command that talks to the local server uses it.
 */
import { isIP } from 'node:net';
import type { LocalServerConfig } from '../adapters/config-store.js';

export function urlOf(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${isIP(reachable) === 6 ? `[${reachable}]` : reachable}:${port}`;
}

export function serverUrl(server: Pick<LocalServerConfig, 'host' | 'port'>): string {
  return urlOf(server.host, server.port);
}
