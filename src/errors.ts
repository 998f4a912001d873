/** One error class carries the exit code; the top-level handler in cli.ts prints it. */
export const EXIT = { ok: 0, failure: 1, usage: 2, cancelled: 130 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}
