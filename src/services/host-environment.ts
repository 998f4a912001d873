/**
 * Where `doctor`, its fixes and `status` look: our data folder, the project
 * and home whose Claude Code settings apply, and the process environment.
 */
export interface HostEnvironment {
  dataRoot: string;
  project: string;
  home: string;
  env: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Managed settings file; null for none; undefined for the platform's default. */
  managedSettingsFile?: string | null;
}
