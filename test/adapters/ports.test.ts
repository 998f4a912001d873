import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { airPlayHint, isPortFree, nextFreePort, whoListens } from '../../src/adapters/ports.js';
import { freePort } from '../helpers/ports.js';

/**
 * A real listener in a child process, once it is listening. (Wrapped: the
 * execa child is a thenable, which an async function would wait for.)
 */
async function listenInChild(port: number, host = '127.0.0.1'): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, ['-e', `require('net').createServer().listen(${port}, '${host}', () => console.log('ready'))`], {
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`listener exited (${code})`)));
  });
  return { child };
}

let children: ResultPromise[] = [];
afterEach(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    await child;
  }
  children = [];
});

describe('ports', () => {
  it('isPortFree is false while a child listens and true once it is gone', async () => {
    const port = await freePort();
    expect(await isPortFree(port)).toBe(true);
    const { child } = await listenInChild(port);
    expect(await isPortFree(port)).toBe(false);
    child.kill('SIGKILL');
    await child;
    expect(await isPortFree(port)).toBe(true);
  });

  it('whoListens names the listening child: its pid, a node command line, a user', async () => {
    const port = await freePort();
    const { child } = await listenInChild(port);
    children.push(child);
    const holders = await whoListens(port);
    expect(holders).toHaveLength(1);
    expect(holders[0]!.pid).toBe(child.pid);
    expect(holders[0]!.command).toContain('node');
    expect(holders[0]!.command).toContain(`listen(${port}`);
    expect(holders[0]!.user).toBeTruthy();
  });

  it('whoListens sees an IPv6 listener too', async () => {
    const port = await freePort();
    const child = (await listenInChild(port, '::1').catch(() => undefined))?.child;
    if (!child) return; // no IPv6 loopback on this machine
    children.push(child);
    expect((await whoListens(port)).map((h) => h.pid)).toEqual([child.pid]);
  });

  it('whoListens returns [] for a port nobody listens on', async () => {
    expect(await whoListens(await freePort())).toEqual([]);
  });

  it('nextFreePort skips a taken port', async () => {
    const port = await freePort();
    children.push((await listenInChild(port)).child);
    const next = await nextFreePort(port);
    expect(next).toBeGreaterThan(port);
    expect(await isPortFree(next)).toBe(true);
  });

  it('airPlayHint speaks of AirPlay for 5000 on macOS only', () => {
    expect(airPlayHint(5000, 'darwin')).toContain('AirPlay Receiver');
    expect(airPlayHint(5000, 'linux')).toBeUndefined();
    expect(airPlayHint(5001, 'darwin')).toBeUndefined();
  });
});
