/** Fixture transcripts, re-rooted into a temp dir so that hook inputs point at real files. */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './venv.js';

export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const sharedFixture = path.join(fixturesDir, 'claude-code-2.1.197');

export function readJsonl(file: string): any[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/**
 * The Claude Code 2.1.197 sample: its transcript copied into `dir`, and the
 * Stop input rewritten to point at the copy.
 */
export function sampleStopInput(dir: string, overrides: Record<string, unknown> = {}): { stdin: string; transcript: string } {
  const transcript = path.join(dir, 'read-tool-session.jsonl');
  cpSync(path.join(sharedFixture, 'read-tool-session.jsonl'), transcript);
  const input = JSON.parse(readFileSync(path.join(sharedFixture, 'stop-hook-stdin.json'), 'utf8'));
  return { stdin: JSON.stringify({ ...input, transcript_path: transcript, ...overrides }), transcript };
}

/** A copy of the sample transcript with its session id (and so its trace id) replaced. */
export function sampleWithSession(dir: string, sessionId: string): { stdin: string; transcript: string } {
  const transcript = path.join(dir, `${sessionId}.jsonl`);
  const text = readFileSync(path.join(sharedFixture, 'read-tool-session.jsonl'), 'utf8').replaceAll(
    '905e7d5e-ff87-48ae-a08f-68f31e6c4d84',
    sessionId,
  );
  writeFileSync(transcript, text);
  const input = JSON.parse(readFileSync(path.join(sharedFixture, 'stop-hook-stdin.json'), 'utf8'));
  return { stdin: JSON.stringify({ ...input, session_id: sessionId, transcript_path: transcript }), transcript };
}
