/**
 * launchd (macOS): a LaunchAgent in ~/Library/LaunchAgents, in the GUI domain
 * of the user (`gui/<uid>`), managed with the launchctl 2 verbs, as `brew services` does.
 *
 * bootout is asynchronous: launchd may still report the service for a while
 * after `launchctl bootout` returns, and a bootstrap in that window fails with
 * "Bootstrap failed: 5: Input/output error". So every bootout is followed by
 * polling `launchctl print` until the service is gone.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from '../../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { assertSpec, commandError, ensureLogDirs, fillTemplate, loadTemplate, posixEnvironment, runChecked } from './common.js';
import { sleep } from '../sleep.js';
import type { ManagerContext, RunResult, ServiceManager, ServiceSpec, ServiceStatus } from './types.js';

export interface LaunchdOptions {
  /**
   * How long to wait for launchd to forget a booted-out service (default 25 s:
   * launchd itself gives a job 20 s, its ExitTimeOut, between SIGTERM and SIGKILL).
   */
  unloadTimeoutMs?: number;
  /** Between two `launchctl print` polls (default 200 ms). */
  pollIntervalMs?: number;
}

/** XML character data / attribute value escaping. */
export function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const xmlString = (value: string, indent: string): string => `${indent}<string>${xmlEscape(value)}</string>`;

export function renderPlist(spec: ServiceSpec): string {
  assertSpec(spec);
  const env = posixEnvironment(spec);
  return fillTemplate(loadTemplate('launchd.plist'), {
    LABEL: xmlEscape(spec.label),
    PROGRAM_ARGUMENTS: [spec.mlflowBin, ...spec.args].map((a) => xmlString(a, '\t\t')).join('\n'),
    WORKING_DIRECTORY: xmlEscape(spec.workingDirectory),
    STDOUT_PATH: xmlEscape(spec.stdoutPath),
    STDERR_PATH: xmlEscape(spec.stderrPath),
    ENVIRONMENT_VARIABLES: env.map(([k, v]) => `\t\t<key>${xmlEscape(k)}</key>\n${xmlString(v, '\t\t')}`).join('\n'),
  });
}

export interface LaunchctlPrint {
  state?: string;
  pid?: number;
}

/** The service's own `state = ...` and `pid = ...` lines (the first ones: nested blocks come later). */
export function parseLaunchctlPrint(text: string): LaunchctlPrint {
  const state = /^\s*state = (.+)$/m.exec(text)?.[1]?.trim();
  const pid = /^\s*pid = (\d+)/m.exec(text)?.[1];
  return { ...(state ? { state } : {}), ...(pid ? { pid: Number(pid) } : {}) };
}

/** Whether `launchctl print-disabled` lists the label as disabled (`=> disabled` on macOS 13+, `=> true` before). */
export function isDisabled(printDisabled: string, label: string): boolean {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`"${escaped}"\\s*=>\\s*(disabled|true)\\b`).test(printDisabled);
}

/** What the launchctl steps share: the context, the user's GUI domain, and how long to wait for a bootout. */
interface Launchd {
  ctx: ManagerContext;
  /** `gui/<uid>`. */
  domain: string;
  unloadTimeoutMs: number;
  pollIntervalMs: number;
}

export function createLaunchdManager(ctx: ManagerContext, options: LaunchdOptions = {}): ServiceManager {
  const launchd: Launchd = {
    ctx,
    domain: `gui/${ctx.uid}`,
    unloadTimeoutMs: options.unloadTimeoutMs ?? 25_000,
    pollIntervalMs: options.pollIntervalMs ?? 200,
  };
  return {
    name: 'launchd',
    unitPath: (spec) => plistPath(ctx, spec),
    render: renderPlist,
    install: (spec) => installAgent(launchd, spec),
    start: (spec) => startAgent(launchd, spec),
    stop: (spec) => bootout(launchd, spec),
    restart: (spec) => restartAgent(launchd, spec),
    async uninstall(spec) {
      await bootout(launchd, spec);
      rmSync(plistPath(ctx, spec), { force: true });
    },
    status: (spec) => agentStatus(launchd, spec),
  };
}

function plistPath(ctx: ManagerContext, spec: ServiceSpec): string {
  return join(ctx.home, 'Library', 'LaunchAgents', `${spec.label}.plist`);
}

/** The service in launchctl's words: `gui/<uid>/<label>`. */
function serviceTarget(launchd: Launchd, spec: ServiceSpec): string {
  return `${launchd.domain}/${spec.label}`;
}

function launchctl(launchd: Launchd, ...args: string[]): Promise<RunResult> {
  return launchd.ctx.run('launchctl', args);
}

async function isLoaded(launchd: Launchd, spec: ServiceSpec): Promise<boolean> {
  return (await launchctl(launchd, 'print', serviceTarget(launchd, spec))).exitCode === 0;
}

/** bootout (ignoring "not loaded"), then poll until launchd no longer knows the service. */
async function bootout(launchd: Launchd, spec: ServiceSpec): Promise<void> {
  const target = serviceTarget(launchd, spec);
  await launchctl(launchd, 'bootout', target);
  const deadline = Date.now() + launchd.unloadTimeoutMs;
  for (;;) {
    if (!(await isLoaded(launchd, spec))) return;
    if (Date.now() >= deadline) {
      throw new CliError(
        `launchd still has ${target} loaded ${Math.round(launchd.unloadTimeoutMs / 1000)} s after \`launchctl bootout\``,
        EXIT.failure,
      );
    }
    await sleep(launchd.pollIntervalMs);
  }
}

/** enable first (a disabled service cannot be bootstrapped: `brew services` does the same), then bootstrap. */
async function bootstrap(launchd: Launchd, spec: ServiceSpec): Promise<void> {
  const plist = plistPath(launchd.ctx, spec);
  if (!existsSync(plist)) throw new CliError(`${plist} does not exist: install the service first`, EXIT.failure);
  await runChecked(launchd.ctx, 'launchctl', ['enable', serviceTarget(launchd, spec)]);
  await runChecked(launchd.ctx, 'launchctl', ['bootstrap', launchd.domain, plist]);
}

/** Write the plist, then boot the agent out and in again, so that a running one picks up the change. */
async function installAgent(launchd: Launchd, spec: ServiceSpec): Promise<void> {
  const text = renderPlist(spec);
  ensureLogDirs(spec);
  const plist = plistPath(launchd.ctx, spec);
  mkdirSync(dirname(plist), { recursive: true });
  writeFileAtomic(plist, text, 0o644);
  await bootout(launchd, spec);
  await bootstrap(launchd, spec);
}

async function startAgent(launchd: Launchd, spec: ServiceSpec): Promise<void> {
  if (await isLoaded(launchd, spec)) await runChecked(launchd.ctx, 'launchctl', ['kickstart', serviceTarget(launchd, spec)]);
  else await bootstrap(launchd, spec);
}

/** `kickstart -k`; an agent that is not loaded is bootstrapped instead. */
async function restartAgent(launchd: Launchd, spec: ServiceSpec): Promise<void> {
  const args = ['kickstart', '-k', serviceTarget(launchd, spec)];
  const r = await launchctl(launchd, ...args);
  if (r.exitCode !== 0) {
    if (await isLoaded(launchd, spec)) throw commandError('launchctl', args, r);
    await bootstrap(launchd, spec);
  }
}

async function agentStatus(launchd: Launchd, spec: ServiceSpec): Promise<ServiceStatus> {
  const installed = existsSync(plistPath(launchd.ctx, spec));
  const printed = await launchctl(launchd, 'print', serviceTarget(launchd, spec));
  const disabled = await launchctl(launchd, 'print-disabled', launchd.domain);
  const enabled = installed && !isDisabled(disabled.stdout, spec.label);
  if (printed.exitCode !== 0) {
    return { installed, enabled, running: false, detail: (printed.stderr || printed.stdout).trim() || 'not loaded' };
  }
  const { state, pid } = parseLaunchctlPrint(printed.stdout);
  const running = state === 'running';
  return { installed, enabled, running, ...(running && pid ? { pid } : {}), detail: `state = ${state ?? 'unknown'}` };
}
