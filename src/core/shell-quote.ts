/** Quote one argument for the shell that runs Claude Code hook commands. */
export function quoteArg(arg: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return `"${arg.replace(/"/g, '""')}"`;
  if (/^[A-Za-z0-9_/.,:@%+=-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(args: string[], platform: NodeJS.Platform = process.platform): string {
  return args.map((a) => quoteArg(a, platform)).join(' ');
}
