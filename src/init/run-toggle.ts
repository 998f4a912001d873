/** `enable` / `disable`: flip MLFLOW_CLAUDE_TRACING_ENABLED, as `mlflow autolog claude --disable` does. */
import { existsSync } from 'node:fs';
import { loadConfig } from '../adapters/config-store.js';
import { withFileLock } from '../adapters/file-lock.js';
import { loadSettings, saveSettings } from '../adapters/settings-file.js';
import { paths } from '../config.js';
import { countOurHooks, setTracingEnabled } from '../core/settings.js';
import { CliError, EXIT } from '../errors.js';
import { targetFiles } from './targets.js';

export interface ToggleOptions {
  enabled: boolean;
  project: string;
  home: string;
  dataRoot: string;
  scope?: string;
  print: (line: string) => void;
}

export async function runToggle(options: ToggleOptions): Promise<number> {
  const files = targetFiles(loadConfig(paths(options.dataRoot).config), options.project, options.home, options.scope);
  const word = options.enabled ? 'on' : 'off';
  let touched = 0;
  for (const file of files) {
    if (!existsSync(file)) continue;
    await withFileLock(file, () => {
      const loaded = loadSettings(file);
      if (countOurHooks(loaded.doc) === 0) return;
      touched += 1;
      const { doc, changed } = setTracingEnabled(loaded.doc, options.enabled);
      if (changed) saveSettings(loaded, doc);
      options.print(changed ? `Tracing ${word} in ${file}.` : `Tracing already ${word} in ${file}.`);
    });
  }
  if (touched === 0) {
    throw new CliError(`claude-mlflow is not set up in ${files.join(', ')}. Run \`claude-mlflow init\` first.`, EXIT.failure);
  }
  return EXIT.ok;
}
