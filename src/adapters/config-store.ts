/**
 * Our config file (`config.json` in the data folder): what `init` decided and
 * where it wrote, so that `uninstall` removes exactly that.
 */
import { dirname } from 'node:path';
import { type Config, readConfig } from '../config.js';
import { mergePrevious } from '../core/credentials.js';
import type { MigrationIntent } from '../core/migration.js';
import type { PreviousState } from '../core/settings.js';
import type { Scope } from '../core/scopes.js';
import type { ScheduleEvery } from './service/schedule-render.js';
import type { ManagerName } from './service/types.js';
import { withFileLock } from './file-lock.js';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.js';

/** One settings file that `init` wrote our hooks into. */
export interface InstallRecord {
  file: string;
  scope: Scope;
  /** The file did not exist before `init`. */
  createdFile: boolean;
  /** What the keys we changed held before, to put them back on uninstall. */
  previous: PreviousState;
}

export interface LocalServerConfig {
  /** Who keeps the server running: an OS service manager, or our pidfile-managed background process. */
  manager: 'background' | ManagerName;
  mlflowBin: string;
  host: string;
  port: number;
  backendStoreUri: string;
  /**
   * MLflow's job execution (judges, evaluation, prompt optimization run from
   * its UI): on only when `init --server-jobs` asked for it. Absent, in a
   * config written before there was a choice, means off.
   */
  jobExecution?: boolean;
}

/** The recurring cleanup that `cleanup --schedule` installed, so that `--unschedule` and `uninstall` remove exactly it. */
export interface CleanupScheduleRecord {
  manager: ManagerName;
  every: ScheduleEvery;
  /** What the job runs: node, cli.js, `cleanup` and its options. */
  command: string[];
  /** Every file written for it: unit and timer, plist, or .cmd wrapper. */
  files: string[];
}

export interface StoredConfig extends Config {
  server?: LocalServerConfig;
  installs?: InstallRecord[];
  cleanupSchedule?: CleanupScheduleRecord;
  /** `migrate` moved the server off this backend store (kept, never read again). */
  migratedFrom?: { backendStoreUri: string; at: string };
  /** A migrate is under way (or was killed): see MigrationIntent. */
  migrating?: MigrationIntent;
}

/** config.json with what init recorded: readConfig's object ({} when missing or not an object). */
export function loadConfig(file: string): StoredConfig {
  return readConfig(file) as StoredConfig;
}

function saveConfig(file: string, config: StoredConfig): void {
  ensurePrivateDir(dirname(file));
  writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

/**
 * Change the config under its lock, from what the file holds now: two
 * commands at once each add their part, and neither writes back a copy it
 * read before the other wrote. Writes only when something changed; returns
 * the config as it now is.
 */
export function updateConfig(file: string, change: (config: StoredConfig) => StoredConfig): Promise<StoredConfig> {
  ensurePrivateDir(dirname(file));
  return withFileLock(file, () => {
    const current = loadConfig(file);
    const next = change(current);
    if (JSON.stringify(next) !== JSON.stringify(current)) saveConfig(file, next);
    return next;
  });
}

/**
 * Record the install of one settings file. An older record of the file wins
 * for every key it knows, as it saw the original; keys only the new record
 * knows (credentials saved later) are added to it.
 */
export function withInstall(config: StoredConfig, record: InstallRecord): StoredConfig {
  const installs = config.installs ?? [];
  const older = installs.find((i) => i.file === record.file);
  if (!older) return { ...config, installs: [...installs, record] };
  const merged = mergePrevious(older.previous, record.previous);
  const unchanged =
    Object.keys(merged.env).length === Object.keys(older.previous.env).length &&
    merged.created.events.length === older.previous.created.events.length;
  if (unchanged) return config;
  return { ...config, installs: installs.map((i) => (i === older ? { ...older, previous: merged } : i)) };
}
