/**
 * Whether a command may ask questions: one rule for every command, so that none
 * of them prompts in CI or when its input or output is piped.
 */

interface MaybeTty {
  isTTY?: boolean;
}

/**
 * True when stdin and `stream` (stdout by default; stderr for commands whose
 * stdout carries JSON) are both terminals and `env.CI` is not set.
 */
export function isInteractive(
  stream: MaybeTty = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
  input: MaybeTty = process.stdin,
): boolean {
  return Boolean(input.isTTY && stream.isTTY && !env.CI);
}
