/**
 * The system tools some tests need and npm cannot install, and the one rule
 * for all of them:
 *
 * - found on this machine: the tests that need it run;
 * - missing, and CI is not 'true' (say, `npm test` on a fresh machine with
 *   only Node and Python): those tests are skipped, and the reason is printed
 *   on the console and written into the skipped suite's name;
 * - missing under CI=true: the tests run anyway and fail on it. .ci/run
 *   installs every tool, so CI can never pass by skipping what it checks.
 *
 * (The launchd plist's DTD check needs no system tool: test/helpers/plist.ts
 * validates with libxml2 from npm.)
 */
import { spawnSync } from 'node:child_process';
import { postgresBinDir } from './postgres.js';

export interface SystemTool {
  /** How messages name it. */
  name: string;
  /** How to get it, for the message. */
  install: string;
  /** Whether this machine has it. */
  isFound(): boolean;
}

export interface ToolGate {
  /** True when the tests that need the tool are skipped here. */
  skip: boolean;
  /** A suite's or test's name, with the reason appended when it is skipped. */
  title(name: string): string;
}

/** True when the command starts and exits 0. */
const runsCleanly = (command: string, args: string[]): boolean => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

export const SYSTEMD_ANALYZE: SystemTool = {
  name: 'systemd-analyze',
  install: 'apt-get install systemd',
  isFound: () => runsCleanly('systemd-analyze', ['--version']),
};

export const POSTGRESQL: SystemTool = {
  name: 'PostgreSQL',
  install: 'apt-get install postgresql',
  isFound: () => postgresBinDir() !== undefined,
};

const ciRequiresEverything = (): boolean => process.env.CI === 'true';

/**
 * Whether the tests that need `tool` run here (see the rule above). Call it
 * once at a test file's top level: when it skips, it prints why.
 */
export function gateOn(tool: SystemTool): ToolGate {
  const skip = !ciRequiresEverything() && !tool.isFound();
  if (!skip) return { skip, title: (name) => name };
  console.warn(
    `Skipping the tests that need ${tool.name}: not found here (${tool.install} to run them; under CI=true they run, and fail without it).`,
  );
  return { skip, title: (name) => `${name} [skipped: no ${tool.name} here; ${tool.install}]` };
}
