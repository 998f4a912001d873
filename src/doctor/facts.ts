/**
 * The adapters behind `doctor`: each gatherer gathers one kind of fact (the
 * host's in gather-host.ts, the local server's in gather-server.ts). Gatherers
 * are memoised and await each other only where one needs another's answer,
 * so `gatherFacts` runs everything else concurrently.
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../adapters/config-store.js';
import { paths, type Paths, type RedactionConfig } from '../config.js';
import { sqliteFile } from '../core/backend-store.js';
import type { ContextFacts, FactKey, Facts, RedactionFacts } from '../core/checks/facts.js';
import { NODE_FLOOR } from '../core/node-floor.js';
import { loadedRuleCount } from '../core/redact.js';
import { SECRET_RULES_SOURCE } from '../core/secret-rules.js';
import type { HostEnvironment } from '../services/host-environment.js';
import { urlOf } from '../services/server-url.js';
import type { VenvProbe } from '../services/store/sqlite-probe.js';
import { gatherDeep, gatherHookLog, gatherHookProcess, gatherLinger, gatherRuntime, gatherSettings, gatherSpool } from './gather-host.js';
import {
  gatherDatabase,
  gatherPort,
  gatherPostgres,
  gatherPython,
  gatherServer,
  gatherService,
  gatherVenvProbe,
  ourServerGroup,
} from './gather-server.js';

export interface DoctorEnvironment extends HostEnvironment {
  deep?: boolean;
  /** Where doctor says what it is about to run (--deep). */
  announce?: (line: string) => void;
  /** The CLI's name in fix commands. */
  cli?: string;
  /** The hook runtime this CLI ships (default: the bundled one beside it). */
  hookRuntimeSource?: string;
}

export type Gatherers = { [K in FactKey]: () => Promise<Facts[K]> };

/** The venv's Python and what it said: one process for the venv and (when wanted) the database. */
export interface VenvProbeResult {
  pythonBin?: string;
  venvPython: boolean;
  probe?: VenvProbe;
  system?: { path: string; version: string } | null;
}

/** What every gatherer is given: where to look, and the other gatherers of the same run (memoised). */
export interface GatherContext {
  environment: DoctorEnvironment;
  /** The facts this run asks for: the venv probe includes the database only when it is wanted. */
  wanted: readonly FactKey[];
  platform: NodeJS.Platform;
  files: Paths;
  facts: Gatherers;
  venvProbe: () => Promise<VenvProbeResult>;
  /** Our server's process group: the recorded pid, while it (or its strays) live. */
  ourGroup: () => Promise<number | undefined>;
}

function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/**
 * The fact gatherers for one doctor run. `wanted` tells the shared venv probe
 * whether to include the database (one Python process for both).
 */
export function makeGatherers(environment: DoctorEnvironment, wanted: readonly FactKey[]): Gatherers {
  const facts = {} as Gatherers;
  const g: GatherContext = {
    environment,
    wanted,
    platform: environment.platform ?? process.platform,
    files: paths(environment.dataRoot),
    facts,
    venvProbe: memo(() => gatherVenvProbe(g)),
    ourGroup: () => ourServerGroup(g),
  };
  return Object.assign(facts, {
    context: memo(() => gatherContext(g)),
    settings: memo(() => gatherSettings(g)),
    runtime: memo(() => gatherRuntime(g)),
    hookProcess: memo(() => gatherHookProcess(g)),
    python: memo(() => gatherPython(g)),
    server: memo(() => gatherServer(g)),
    service: memo(() => gatherService(g)),
    port: memo(() => gatherPort(g)),
    database: memo(() => gatherDatabase(g)),
    postgres: memo(() => gatherPostgres(g)),
    spool: memo(() => gatherSpool(g)),
    hookLog: memo(() => gatherHookLog(g)),
    linger: memo(() => gatherLinger(g)),
    deep: memo(() => gatherDeep(g)),
  } satisfies Gatherers);
}

/** Gather the facts `keys` names, concurrently. The object holds only those keys. */
export async function gatherFacts(keys: readonly FactKey[], environment: DoctorEnvironment): Promise<Partial<Facts>> {
  const gatherers = makeGatherers(environment, keys);
  const entries = await Promise.all(keys.map(async (key) => [key, await gatherers[key]()] as const));
  return Object.fromEntries(entries) as Partial<Facts>;
}

/** config.json and where our files are. */
async function gatherContext({ environment, platform, files }: GatherContext): Promise<ContextFacts> {
  const { dataRoot, project } = environment;
  const configured = existsSync(files.config);
  const config = loadConfig(files.config);
  const server = config.server
    ? {
        manager: config.server.manager,
        mlflowBin: config.server.mlflowBin,
        host: config.server.host,
        port: config.server.port,
        backendStoreUri: config.server.backendStoreUri,
        url: urlOf(config.server.host, config.server.port),
      }
    : undefined;
  return {
    cli: environment.cli ?? 'claude-mlflow',
    dataRoot,
    project,
    platform,
    nodeVersion: process.versions.node,
    nodePath: process.execPath,
    floors: { node: NODE_FLOOR },
    configured,
    trackingUri: config.trackingUri,
    experimentName: config.experimentName,
    experimentId: config.experimentId,
    server,
    installs: (config.installs ?? []).map((i) => ({ file: i.file, scope: i.scope })),
    redaction: redactionFacts(config.redaction),
    files: {
      config: files.config,
      hookScript: files.hookScript,
      spool: files.spool,
      hookLog: files.hookLog,
      serverLog: files.serverLog,
      pidFile: files.serverPid,
      venv: files.venv,
      database: server ? sqliteFile(server.backendStoreUri, dataRoot) : undefined,
    },
  };
}

function redactionFacts(config: RedactionConfig | undefined): RedactionFacts {
  const badPatterns = (config?.extraPatterns ?? []).filter((source) => {
    try {
      new RegExp(source, 'g');
      return false;
    } catch {
      return true;
    }
  });
  return {
    enabled: config?.enabled !== false,
    rules: loadedRuleCount(),
    source: SECRET_RULES_SOURCE,
    extraPatterns: (config?.extraPatterns ?? []).length - badPatterns.length,
    allow: (config?.allow ?? []).length,
    badPatterns,
  };
}
