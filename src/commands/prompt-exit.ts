/** Ctrl-C (or a closed terminal) during a question: inquirer's errors for it. */
export function isPromptExit(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}
