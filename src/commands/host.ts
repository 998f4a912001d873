/**
 * What a command takes from the machine it runs on, built once per command
 * from its flags and the process: the data folder, the project, the home
 * folder, the environment, where lines are printed, and whether there is a
 * terminal to ask on. The features never read process state themselves: they
 * get these values, so tests can give others.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { isInteractive } from '../adapters/terminal.js';
import { dataDir } from '../config.js';

/** A yes/no question on the terminal. */
export type Confirm = (message: string) => Promise<boolean>;

export interface HostContext {
  /** Our data folder (CLAUDE_MLFLOW_HOME, else the platform's). */
  dataRoot: string;
  /**
   * `--project`, else the current folder, as an absolute path. Resolved when
   * read, so that commands without a project never touch the current folder.
   */
  readonly project: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** One line to stdout. */
  print: (line: string) => void;
  /** stdin and the stream questions go to are terminals, and CI is not set. */
  interactive: boolean;
  /** stdout is a terminal and NO_COLOR is not set (a command adds its own `--json`). */
  color: boolean;
  /** A yes/no question with this default, on the questions' stream; undefined when not interactive. */
  confirm(defaultAnswer: boolean): Confirm | undefined;
  /** Where a feature looks, and the environment: the data folder, the project, home and env. */
  places(): HostPlaces;
}

export interface HostPlaces {
  dataRoot: string;
  project: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

export interface HostFlags {
  project?: string;
}

/**
 * The host context of one command. `questions` is where prompts are written:
 * stdout, or stderr for a command whose stdout carries JSON.
 */
export function hostContext(flags: HostFlags = {}, questions: NodeJS.WriteStream = process.stdout): HostContext {
  const env = process.env;
  const interactive = isInteractive(questions, env);
  const host: HostContext = {
    dataRoot: dataDir(env),
    get project() {
      return resolve(flags.project ?? process.cwd());
    },
    home: env.HOME || homedir(),
    env,
    print: (line) => process.stdout.write(`${line}\n`),
    interactive,
    color: Boolean(process.stdout.isTTY) && !env.NO_COLOR,
    confirm: (defaultAnswer) =>
      interactive
        ? async (message) => (await import('@inquirer/prompts')).confirm({ message, default: defaultAnswer }, { output: questions })
        : undefined,
    places: () => ({ dataRoot: host.dataRoot, project: host.project, home: host.home, env: host.env }),
  };
  return host;
}
