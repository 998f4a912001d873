/**
 * launchd (macOS): a LaunchAgent in ~/Library/LaunchAgents, in the GUI domain
 * of the user (`gui/<uid>`), managed with the launchctl 2 verbs, as `brew services` does.
 *
 * bootout is asynchronous: launchd may still report the service for a while
 * after `launchctl bootout` returns, and a bootstrap in that window fails with
 * "Bootstrap failed: 5: Input/output error". So every bootout is followed by
 * polling `launchctl print` until the service is gone.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from '../../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs-atomic.js';
import { assertSpec, commandError, fillTemplate, loadTemplate, logDirs, posixEnvironment, sleep } from './common.js';
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
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
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

export function createLaunchdManager(ctx: ManagerContext, options: LaunchdOptions = {}): ServiceManager {
  const unloadTimeoutMs = options.unloadTimeoutMs ?? 25_000;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const domain = `gui/${ctx.uid}`;
  const target = (spec: ServiceSpec): string => `${domain}/${spec.label}`;
  const unitPath = (spec: ServiceSpec): string => join(ctx.home, 'Library', 'LaunchAgents', `${spec.label}.plist`);

  const launchctl = (...args: string[]): Promise<RunResult> => ctx.run('launchctl', args);
  const must = async (...args: string[]): Promise<RunResult> => {
    const r = await launchctl(...args);
    if (r.exitCode !== 0) throw commandError('launchctl', args, r);
    return r;
  };
  const loaded = async (spec: ServiceSpec): Promise<boolean> => (await launchctl('print', target(spec))).exitCode === 0;

  /** bootout (ignoring "not loaded"), then poll until launchd no longer knows the service. */
  async function bootout(spec: ServiceSpec): Promise<void> {
    await launchctl('bootout', target(spec));
    const deadline = Date.now() + unloadTimeoutMs;
    for (;;) {
      if (!(await loaded(spec))) return;
      if (Date.now() >= deadline) {
        throw new CliError(`launchd still has ${target(spec)} loaded ${Math.round(unloadTimeoutMs / 1000)} s after \`launchctl bootout\``, EXIT.failure);
      }
      await sleep(pollIntervalMs);
    }
  }

  /** enable first (a disabled service cannot be bootstrapped: `brew services` does the same), then bootstrap. */
  async function bootstrap(spec: ServiceSpec): Promise<void> {
    const plist = unitPath(spec);
    if (!existsSync(plist)) throw new CliError(`${plist} does not exist: install the service first`, EXIT.failure);
    await must('enable', target(spec));
    await must('bootstrap', domain, plist);
  }

  const manager: ServiceManager = {
    name: 'launchd',
    unitPath,
    render: renderPlist,

    async install(spec) {
      const text = renderPlist(spec);
      for (const dir of logDirs(spec)) {
        ensurePrivateDir(dir);
        chmodSync(dir, 0o700);
      }
      const plist = unitPath(spec);
      mkdirSync(dirname(plist), { recursive: true });
      writeFileAtomic(plist, text, 0o644);
      await bootout(spec);
      await bootstrap(spec);
    },

    async start(spec) {
      if (await loaded(spec)) await must('kickstart', target(spec));
      else await bootstrap(spec);
    },

    async stop(spec) {
      await bootout(spec);
    },

    async restart(spec) {
      const r = await launchctl('kickstart', '-k', target(spec));
      if (r.exitCode !== 0) {
        if (await loaded(spec)) throw commandError('launchctl', ['kickstart', '-k', target(spec)], r);
        await bootstrap(spec);
      }
    },

    async uninstall(spec) {
      await bootout(spec);
      rmSync(unitPath(spec), { force: true });
    },

    async status(spec): Promise<ServiceStatus> {
      const installed = existsSync(unitPath(spec));
      const printed = await launchctl('print', target(spec));
      const disabled = await launchctl('print-disabled', domain);
      const enabled = installed && !isDisabled(disabled.stdout, spec.label);
      if (printed.exitCode !== 0) {
        return { installed, enabled, running: false, detail: (printed.stderr || printed.stdout).trim() || 'not loaded' };
      }
      const { state, pid } = parseLaunchctlPrint(printed.stdout);
      const running = state === 'running';
      return { installed, enabled, running, ...(running && pid ? { pid } : {}), detail: `state = ${state ?? 'unknown'}` };
    },
  };
  return manager;
}
