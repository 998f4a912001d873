/** `status`: one screen (or one JSON document) about the tracing setup. */
import { makeMasker, maskDeep, secretValues } from '../core/mask.js';
import { collectStatus, type StatusData, type StatusEnvironment } from './collect.js';
import { renderStatus } from './render.js';

export interface StatusOptions extends StatusEnvironment {
  json?: boolean;
  color?: boolean;
  print: (line: string) => void;
}

export async function runStatus(options: StatusOptions): Promise<{ exitCode: number; data: StatusData }> {
  const raw = await collectStatus(options);
  const data = maskDeep(raw, makeMasker(secretValues(options.env)));
  if (options.json) options.print(JSON.stringify(data, null, 2));
  else for (const line of renderStatus(data, { color: options.color })) options.print(line);
  return { exitCode: 0, data };
}
