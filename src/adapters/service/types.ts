/**
 * The OS service managers (launchd, systemd --user, Windows Task Scheduler)
 * that keep the local MLflow server running the way `brew services` does.
 * The pidfile manager in background.ts is the fallback when none is usable.
 */

export type ManagerName = 'launchd' | 'systemd' | 'schtasks';

export interface ServiceSpec {
  /** Reverse-DNS label, e.g. 'dev.claude-mlflow.server'; systemd and Task Scheduler use serviceName(label). */
  label: string;
  /** Absolute path of the mlflow executable (in our venv). */
  mlflowBin: string;
  /** serverArgs(...) from background.ts. */
  args: string[];
  workingDirectory: string;
  stdoutPath: string;
  stderrPath: string;
  /** Explicit: nothing relies on the user's shell PATH. A missing PATH gets the mlflow bin dir plus the system dirs. */
  environment: Record<string, string>;
}

export interface ServiceStatus {
  /** The unit/plist/task (or its fallback) exists. */
  installed: boolean;
  /** It starts by itself at login. */
  enabled: boolean;
  running: boolean;
  pid?: number;
  detail?: string;
}

export interface ServiceManager {
  name: ManagerName;
  /** Where the generated file goes. */
  unitPath(spec: ServiceSpec): string;
  /** The file's text (pure). */
  render(spec: ServiceSpec): string;
  /** Write the file, register it, start it (restarting an older instance). */
  install(spec: ServiceSpec): Promise<void>;
  start(spec: ServiceSpec): Promise<void>;
  stop(spec: ServiceSpec): Promise<void>;
  restart(spec: ServiceSpec): Promise<void>;
  /** Stop, unregister, remove the file. */
  uninstall(spec: ServiceSpec): Promise<void>;
  status(spec: ServiceSpec): Promise<ServiceStatus>;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ManagerContext {
  home: string;
  uid: number;
  env: NodeJS.ProcessEnv;
  /** The process runner (never rejects); a command that cannot be spawned answers exit code 127. */
  run(cmd: string, args: string[]): Promise<RunResult>;
}
