/**
 * Recording fakes: small executable shell scripts put first on PATH, for the
 * OS tools that cannot exist on Linux CI (launchctl, schtasks, ...) or must
 * not be touched for real (systemctl --user, loginctl). Each fake appends
 * its name and argv, tab-separated, as one line to `calls.log` in its
 * directory, then runs the given script body (plain sh, "$@" are its args).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ManagerContext } from '../../src/adapters/service/types.js';
import { runCommand } from '../../src/adapters/service/common.js';

export function callsFile(dir: string): string {
  return path.join(dir, 'calls.log');
}

/** Write an executable fake `name` into `dir` and return its path. */
export function makeFakeBin(dir: string, name: string, script: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  const record = `{ printf '%s' ${shq(name)}; for a in "$@"; do printf '\\t%s' "$a"; done; printf '\\n'; } >> ${shq(callsFile(dir))}`;
  writeFileSync(file, `#!/bin/sh\n${record}\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Every recorded call, in order: [name, ...args]. */
export function readCalls(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

/** PATH with the fakes first, then just the system dirs the fake scripts need (cat, rm, ...). */
export function fakePath(dir: string): string {
  return [dir, '/usr/bin', '/bin'].join(':');
}

/** A ManagerContext whose commands really run (execa) and find the fakes in `binDir` first. */
export function fakeContext(options: { binDir: string; home: string; uid?: number; env?: NodeJS.ProcessEnv }): ManagerContext {
  const env: NodeJS.ProcessEnv = { HOME: options.home, ...options.env, PATH: fakePath(options.binDir) };
  return {
    home: options.home,
    uid: options.uid ?? 501,
    env,
    run: (cmd, args) => runCommand(cmd, args, env),
  };
}

/** Single-quote for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
