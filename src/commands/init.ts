/** `init`: flags → runInit, with the prompts on a terminal. */
import { parseInitOptions, type InitCommandFlags } from '../init/options.js';
import { hostContext } from './host.js';

export async function runInitCommand(flags: InitCommandFlags): Promise<number> {
  const options = parseInitOptions(flags);
  const host = hostContext(flags);
  const { runInit } = await import('../init/run-init.js');
  const prompter = host.interactive ? (await import('../init/prompter.js')).inquirerPrompter : undefined;
  await runInit({
    ...options,
    ...host.places(),
    prompter,
    print: host.print,
    renderer: host.interactive ? 'default' : 'simple',
  });
  return 0;
}
