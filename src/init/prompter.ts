/** The interactive questions, with @inquirer/prompts. Loaded only on a TTY. */
import { confirm, input, select } from '@inquirer/prompts';
import type { Scope } from '../core/scopes.js';
import { parsePort, parseTrackingUri, type Prompter } from './options.js';

export const inquirerPrompter: Prompter = {
  scope: (defaultScope) =>
    select<Scope>({
      message: 'Where should tracing be switched on?',
      default: defaultScope,
      choices: [
        { value: 'project', name: 'This project, for everyone (.claude/settings.json)' },
        { value: 'local', name: 'This project, only for me (.claude/settings.local.json)' },
        { value: 'user', name: 'Every project of mine (~/.claude/settings.json)' },
      ],
    }),
  server: async () => {
    const where = await select({
      message: 'Which MLflow server should receive the traces?',
      choices: [
        { value: 'local', name: 'A local server on this machine (installed and run for you)' },
        { value: 'remote', name: 'A server I already run, or a Databricks workspace (enter its URL, or databricks://<profile>)' },
      ],
    });
    if (where === 'local') return {};
    const uri = await input({
      message: 'Tracking server URL (or databricks, databricks://<profile>):',
      validate: (v) => {
        try {
          parseTrackingUri(v);
          return true;
        } catch (error) {
          return (error as Error).message;
        }
      },
    });
    return { remoteUri: parseTrackingUri(uri) };
  },
  experiment: (defaultName) => input({ message: 'Experiment name:', default: defaultName }),
  port: async (defaultPort) => {
    const value = await input({
      message: 'Port for the local MLflow server:',
      default: String(defaultPort),
      validate: (v) => {
        try {
          parsePort(v);
          return true;
        } catch (error) {
          return (error as Error).message;
        }
      },
    });
    return parsePort(value);
  },
  service: (defaultValue) =>
    confirm({
      message: 'Keep the server running across restarts with the system service manager (launchd / systemd / Task Scheduler)?',
      default: defaultValue,
    }),
  confirm: (message, defaultValue) => confirm({ message, default: defaultValue }),
};
