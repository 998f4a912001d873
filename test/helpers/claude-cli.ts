/**
 * Run the real Claude Code CLI (node_modules/.bin/claude, the pinned
 * @anthropic-ai/claude-code) offline against a fake Anthropic API.
 *
 * What 2.1.197 needs, found by running it:
 * - Nothing in a fresh HOME: `-p` skips onboarding and the workspace trust
 *   dialog, and project `.claude/settings.json` hooks run without trust. It
 *   creates ~/.claude.json itself. We still seed ~/.claude.json with the
 *   onboarding/trust flags (prepareClaudeHome) so an interactive-looking
 *   check never blocks.
 * - ANTHROPIC_BASE_URL + ANTHROPIC_API_KEY (any value) and
 *   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1; with those it makes only a
 *   `HEAD /` to the base URL and `POST /v1/messages?beta=true` (streaming).
 * - stdin must not be an open pipe: `-p` then waits 3 s for piped input
 *   ("Warning: no stdin data received in 3s"). We pass stdin "ignore".
 * - As root, `--dangerously-skip-permissions` is refused (exit 1): use
 *   `--allowedTools Read` etc. instead.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** The nearest node_modules/.bin/claude above this file (works from a bundled copy too). */
function findPinnedClaude(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'node_modules', '.bin', 'claude');
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return 'claude';
    dir = parent;
  }
}

/** The pinned CLI; CLAUDE_BIN overrides it. */
export const CLAUDE_BIN: string = process.env.CLAUDE_BIN ?? findPinnedClaude();

export interface RunClaudeOptions {
  /** Project directory the CLI runs in. */
  cwd: string;
  /** HOME for the CLI (use makeTempHome()). */
  home: string;
  /** Fake Anthropic base URL (FakeAnthropic.url). */
  baseUrl: string;
  prompt: string;
  /** Extra CLI arguments, e.g. ["--allowedTools", "Read"] or ["--resume", id]. */
  args?: string[];
  /** Extra environment (added to the clean env; undefined removes a key). */
  env?: Record<string, string | undefined>;
  /** Kill the CLI after this long (default 60 000 ms). */
  timeoutMs?: number;
  /** Seed ~/.claude.json (prepareClaudeHome) first; default true. */
  prepareHome?: boolean;
}

export interface RunClaudeResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  durationMs: number;
  timedOut: boolean;
  /** The full command line, for failure messages. */
  command: string;
}

/** The clean environment the CLI runs with: PATH, HOME and the offline Anthropic settings. */
export function claudeEnv(home: string, baseUrl: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: 'anything',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ...extra,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Seed $HOME/.claude.json with onboarding done and `trustedDirs` trusted.
 * Merges into an existing file (the CLI adds its own keys after a run).
 */
export async function prepareClaudeHome(home: string, trustedDirs: string[] = []): Promise<void> {
  const file = path.join(home, '.claude.json');
  let config: Record<string, any> = {};
  if (existsSync(file)) {
    try {
      config = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      config = {};
    }
  }
  config.hasCompletedOnboarding = true;
  config.lastOnboardingVersion ??= '2.1.197';
  config.projects ??= {};
  for (const dir of trustedDirs) {
    config.projects[dir] = {
      allowedTools: [],
      hasTrustDialogAccepted: true,
      hasCompletedProjectOnboarding: true,
      ...config.projects[dir],
    };
  }
  await mkdir(home, { recursive: true });
  await writeFile(file, JSON.stringify(config, null, 2) + '\n');
}

export async function runClaude(options: RunClaudeOptions): Promise<RunClaudeResult> {
  const { cwd, home, baseUrl, prompt, args = [], env = {}, timeoutMs = 60_000 } = options;
  if (options.prepareHome !== false) await prepareClaudeHome(home, [cwd]);
  const argv = ['-p', prompt, ...args];
  const started = performance.now();
  const result = await execa(CLAUDE_BIN, argv, {
    cwd,
    env: claudeEnv(home, baseUrl, env),
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    timeout: timeoutMs,
    forceKillAfterDelay: 2_000,
    stripFinalNewline: false,
  });
  return {
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode,
    durationMs: Math.round(performance.now() - started),
    timedOut: Boolean(result.timedOut),
    command: `${CLAUDE_BIN} ${argv.map((a) => JSON.stringify(a)).join(' ')}`,
  };
}

/** One step of a streamed session: a prompt, an interrupt (as the SDK sends it), or a wait. */
export type StreamStep = { prompt: string } | { interrupt: true } | { until: () => boolean };

/**
 * Run the CLI as the Agent SDK does (`--input-format stream-json`): the
 * prompts and interrupts go in on stdin, one step after the other; stdin
 * closes once every prompt has its result.
 */
export async function runClaudeStreaming(options: Omit<RunClaudeOptions, 'prompt'> & { steps: StreamStep[] }): Promise<RunClaudeResult> {
  const { cwd, home, baseUrl, args = [], env = {}, timeoutMs = 60_000 } = options;
  if (options.prepareHome !== false) await prepareClaudeHome(home, [cwd]);
  const argv = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', ...args];
  const started = performance.now();
  const child = execa(CLAUDE_BIN, argv, {
    cwd,
    env: claudeEnv(home, baseUrl, env),
    extendEnv: false,
    reject: false,
    timeout: timeoutMs,
    forceKillAfterDelay: 2_000,
    buffer: true,
  });
  let stdout = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  const waitFor = async (done: () => boolean): Promise<void> => {
    const until = Date.now() + 30_000;
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  };
  const write = (message: unknown): void => {
    child.stdin?.write(`${JSON.stringify(message)}\n`);
  };
  let prompts = 0;
  for (const step of options.steps) {
    if ('prompt' in step) {
      prompts += 1;
      write({ type: 'user', message: { role: 'user', content: step.prompt } });
    } else if ('interrupt' in step) {
      write({ type: 'control_request', request_id: `interrupt-${prompts}`, request: { subtype: 'interrupt' } });
    } else {
      await waitFor(step.until);
    }
  }
  await waitFor(() => stdout.split('\n').filter((line) => line.startsWith('{"type":"result"')).length >= prompts);
  child.stdin?.end();
  const result = await child;
  return {
    stdout,
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode,
    durationMs: Math.round(performance.now() - started),
    timedOut: Boolean(result.timedOut),
    command: `${CLAUDE_BIN} ${argv.map((a) => JSON.stringify(a)).join(' ')}`,
  };
}

/** The folder name Claude Code uses under ~/.claude/projects for a cwd. */
export function projectDirName(cwd: string): string {
  return cwd.replace(/[^a-zA-Z0-9]/g, '-');
}

/** $HOME/.claude/projects/<munged cwd> */
export function projectTranscriptDir(home: string, cwd: string): string {
  return path.join(home, '.claude', 'projects', projectDirName(cwd));
}

/** Main-session transcripts (`<session>.jsonl`) written for `cwd`, as absolute paths. */
export async function listTranscripts(home: string, cwd: string): Promise<string[]> {
  const dir = projectTranscriptDir(home, cwd);
  if (!existsSync(dir)) return [];
  return (await readdir(dir))
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Parse a JSONL file into its rows. */
export async function readJsonl(file: string): Promise<any[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/**
 * Write `<projectDir>/.claude/settings.json` with Stop and SubagentStop hooks
 * that append their stdin, as received plus a newline (the CLI sends one
 * line of JSON, so the files are JSONL: read them with readJsonl), to
 * `<captureDir>/stop.jsonl` and `<captureDir>/subagent-stop.jsonl`.
 */
export async function installCaptureHooks(
  projectDir: string,
  captureDir: string,
): Promise<{ stopFile: string; subagentStopFile: string; stopFailureFile: string }> {
  await mkdir(captureDir, { recursive: true });
  await mkdir(path.join(projectDir, '.claude'), { recursive: true });
  const script = path.join(captureDir, 'capture-stdin.mjs');
  await writeFile(
    script,
    [
      'import { appendFileSync } from "node:fs";',
      'const chunks = [];',
      'for await (const c of process.stdin) chunks.push(c);',
      'const text = Buffer.concat(chunks).toString("utf8");',
      'appendFileSync(process.argv[2], text.endsWith("\\n") ? text : text + "\\n");',
      '',
    ].join('\n'),
  );
  const stopFile = path.join(captureDir, 'stop.jsonl');
  const subagentStopFile = path.join(captureDir, 'subagent-stop.jsonl');
  const stopFailureFile = path.join(captureDir, 'stop-failure.jsonl');
  const cmd = (out: string) => `node ${JSON.stringify(script)} ${JSON.stringify(out)}`;
  const settings = {
    hooks: {
      Stop: [{ hooks: [{ type: 'command', command: cmd(stopFile) }] }],
      SubagentStop: [{ hooks: [{ type: 'command', command: cmd(subagentStopFile) }] }],
      // Claude Code does not wait for StopFailure hooks when `claude -p` exits: the shell's cat is quick enough.
      StopFailure: [
        { hooks: [{ type: 'command', command: `cat >> ${JSON.stringify(stopFailureFile)}; echo >> ${JSON.stringify(stopFailureFile)}` }] },
      ],
    },
  };
  await writeFile(path.join(projectDir, '.claude', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
  return { stopFile, subagentStopFile, stopFailureFile };
}
