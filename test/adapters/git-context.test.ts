/**
 * The git state read from `.git` itself, checked against real repositories
 * made with git here: a branch, a detached HEAD, a worktree, packed refs, a
 * remote URL with a token in it, a dirty and a clean tree, and no repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitContextOf, gitMetadata, remoteUrlOf, withoutUserInfo } from '../../src/adapters/git-context.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
let n = 0;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: tmp.path,
    },
  }).trim();
}

/** A repository with two commits on `main`, a file in a sub-folder, and an origin whose URL holds a token. */
function repo(): { dir: string; head: string } {
  n += 1;
  const dir = path.join(tmp.path, `repo-${n}`);
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(path.join(dir, 'src', 'a.txt'), 'one\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'one');
  writeFileSync(path.join(dir, 'b.txt'), 'two\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'two');
  git(dir, 'remote', 'add', 'origin', 'https://x-access-token:ghp_secret123@github.com/acme/app.git');
  return { dir, head: git(dir, 'rev-parse', 'HEAD') };
}

beforeAll(async () => {
  tmp = await makeTempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('gitContextOf', () => {
  it('a branch: its name, the commit, the origin without the token, a clean tree; from a sub-folder too', () => {
    const { dir, head } = repo();
    const expected = { branch: 'main', commit: head, remoteUrl: 'https://github.com/acme/app.git', dirty: false };
    expect(gitContextOf(dir)).toEqual(expected);
    expect(gitContextOf(path.join(dir, 'src'))).toEqual(expected);
    expect(JSON.stringify(gitMetadata(gitContextOf(dir)))).not.toContain('ghp_secret123');
  });

  it('dirty when a tracked file changed or went; clean when a file was only touched; untracked files do not count', () => {
    const { dir } = repo();
    writeFileSync(path.join(dir, 'untracked.txt'), 'new\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(path.join(dir, 'b.txt'), later, later);
    expect(gitContextOf(dir)?.dirty).toBe(false);
    writeFileSync(path.join(dir, 'b.txt'), 'changed\n');
    expect(gitContextOf(dir)?.dirty).toBe(true);
    expect(git(dir, 'status', '--porcelain', '--untracked-files=no')).not.toBe('');
  });

  it('a detached HEAD: the commit and no branch', () => {
    const { dir } = repo();
    const first = git(dir, 'rev-parse', 'HEAD~1');
    git(dir, 'checkout', '-q', '--detach', first);
    expect(gitContextOf(dir)).toMatchObject({ commit: first, dirty: false });
    expect(gitContextOf(dir)?.branch).toBeUndefined();
  });

  it('a worktree: its own branch and commit, the main repository’s remote', () => {
    const { dir } = repo();
    const tree = path.join(tmp.path, `tree-${n}`);
    git(dir, 'worktree', 'add', '-q', '-b', 'feature', tree, 'HEAD~1');
    expect(gitContextOf(tree)).toEqual({
      branch: 'feature',
      commit: git(tree, 'rev-parse', 'HEAD'),
      remoteUrl: 'https://github.com/acme/app.git',
      dirty: false,
    });
  });

  it('packed refs', () => {
    const { dir, head } = repo();
    git(dir, 'pack-refs', '--all');
    expect(gitContextOf(dir)).toMatchObject({ branch: 'main', commit: head });
  });

  it('no repository: nothing', () => {
    const dir = path.join(tmp.path, 'plain');
    mkdirSync(dir, { recursive: true });
    expect(gitContextOf(dir)).toBeUndefined();
    expect(gitMetadata(undefined)).toEqual({});
  });
});

describe('remote URLs', () => {
  it('strips user and password or token, keeps scp-like and plain URLs', () => {
    expect(withoutUserInfo('https://user:pw@host/x.git')).toBe('https://host/x.git');
    expect(withoutUserInfo('ssh://git@host:22/x.git')).toBe('ssh://host:22/x.git');
    expect(withoutUserInfo('git@github.com:acme/app.git')).toBe('git@github.com:acme/app.git');
    expect(
      remoteUrlOf('[core]\n\tbare = false\n[remote "upstream"]\n\turl = https://a/u.git\n[remote "origin"]\n\turl = https://t@b/o.git\n'),
    ).toBe('https://b/o.git');
    expect(remoteUrlOf('[remote "upstream"]\n\turl = https://a/u.git\n')).toBe('https://a/u.git');
  });
});
