/**
 * Claude Code settings documents: adding, updating and removing our tracing
 * hook and MLFLOW_* variables, recognising MLflow's own tracers, and leaving
 * everything of the user's exactly as it was.
 */
import { describe, expect, it } from 'vitest';
import {
  applyTracing,
  countOurHooks,
  findForeignTracers,
  HOOK_EVENTS,
  SESSION_END_TIMEOUT_SEC,
  isOurHookCommand,
  migrateLegacyEnvironment,
  OUR_ENV_KEYS,
  removeTracing,
  setTracingEnabled,
  shapeProblem,
  type TracingSpec,
} from '../../src/core/settings.js';

const COMMAND = `/usr/bin/node '/home/u/.local/share/claude-mlflow/runtime/claude-mlflow-hook.mjs'`;
const OLD_COMMAND = `/opt/node18/bin/node '/home/u/old-data/runtime/claude-mlflow-hook.mjs'`;

const SPEC: TracingSpec = {
  hookCommand: COMMAND,
  timeoutSec: 5,
  env: {
    MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
    MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000',
    MLFLOW_EXPERIMENT_NAME: 'my-project',
  },
};

const PYTHON_HOOK = 'python -c "from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()"';

type Doc = Record<string, unknown>;

function ours(command = COMMAND, timeout = 5): Doc {
  return { type: 'command', command, timeout };
}

/** Ours on SessionEnd: its timeout stays within Claude Code's own 1.5 s wait for SessionEnd hooks. */
function oursAtSessionEnd(command = COMMAND): Doc {
  return ours(command, SESSION_END_TIMEOUT_SEC);
}

function group(...hooks: Doc[]): Doc {
  return { hooks };
}

function hooksOf(doc: Doc): Record<string, Doc[]> {
  return doc.hooks as Record<string, Doc[]>;
}

function envOf(doc: Doc): Record<string, string> {
  return doc.env as Record<string, string>;
}

/** Commands of our hooks, per event. */
function ourCommands(doc: Doc): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [event, groups] of Object.entries(hooksOf(doc) ?? {})) {
    for (const g of groups) {
      for (const h of g.hooks as Doc[]) {
        if (typeof h.command === 'string' && isOurHookCommand(h.command)) (out[event] ??= []).push(h.command);
      }
    }
  }
  return out;
}

describe('isOurHookCommand', () => {
  it.each([
    COMMAND,
    OLD_COMMAND,
    `"C:\\Program Files\\nodejs\\node.exe" "C:\\Users\\u\\AppData\\Local\\claude-mlflow\\runtime\\claude-mlflow-hook.mjs"`,
    'node claude-mlflow-hook.mjs',
    'npx claude-mlflow hook',
    'npx -y claude-mlflow@latest hook',
    'pnpm dlx claude-mlflow hook',
    'claude-mlflow hook',
    '/usr/local/bin/claude-mlflow hook',
    'FOO=1 claude-mlflow hook',
    'cd /x && npx claude-mlflow hook',
    'node /usr/lib/node_modules/claude-mlflow/dist/cli.js hook',
  ])('recognises %s', (command) => {
    expect(isOurHookCommand(command)).toBe(true);
  });

  it.each([
    PYTHON_HOOK,
    'mlflow autolog claude stop-hook',
    'echo claude-mlflow hook',
    'npx claude-mlflow flush',
    'npx claude-mlflow-other hook',
    'npx my-claude-mlflow hook',
    'node /x/my-claude-mlflow-hook.mjs',
    'node /x/claude-mlflow-hook.mjs.bak',
    'prettier --write',
    '',
  ])('does not claim %s', (command) => {
    expect(isOurHookCommand(command)).toBe(false);
  });
});

describe('findForeignTracers', () => {
  it.each([
    ['python -c', PYTHON_HOOK],
    ['python3 -I -c', `python3 -I -c "from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()"`],
    ['uv run python', `uv run python -c "from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()"`],
    ['an absolute python', `/home/u/.venv/bin/python -c 'from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()'`],
  ])('finds the legacy Python hook (%s)', (_label, command) => {
    const doc = { hooks: { Stop: [group({ type: 'command', command: 'echo hi' }, { type: 'command', command })] } };
    expect(findForeignTracers(doc)).toEqual([{ kind: 'mlflow-python-hook', where: 'hooks.Stop[0].hooks[1]', command }]);
  });

  it.each([
    'mlflow autolog claude stop-hook',
    '/home/u/.venv/bin/mlflow autolog claude stop-hook',
    `'/opt/my tools/bin/mlflow' autolog claude stop-hook`,
    'uv run mlflow autolog claude stop-hook',
  ])('finds the autolog hook: %s', (command) => {
    const doc = { hooks: { Stop: [group(ours()), group({ type: 'command', command })] } };
    expect(findForeignTracers(doc)).toEqual([{ kind: 'mlflow-autolog-hook', where: 'hooks.Stop[1].hooks[0]', command }]);
  });

  it('finds the MLflow plugin when it is enabled, from any marketplace', () => {
    const doc = {
      enabledPlugins: {
        'formatter@anthropic-tools': true,
        'mlflow-tracing@mlflow-plugins': true,
        'mlflow-tracing@my-mirror': true,
        'mlflow-tracing@off': false,
      },
    };
    expect(findForeignTracers(doc)).toEqual([
      { kind: 'mlflow-plugin', where: 'enabledPlugins["mlflow-tracing@mlflow-plugins"]' },
      { kind: 'mlflow-plugin', where: 'enabledPlugins["mlflow-tracing@my-mirror"]' },
    ]);
  });

  it('does not report our hook, other hooks, or mlflow commands that are not tracers', () => {
    const doc = {
      hooks: {
        Stop: [group(ours(), { type: 'command', command: 'mlflow server --port 5000' })],
        PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'mlflow autolog claude -d .' }] }],
      },
    };
    expect(findForeignTracers(doc)).toEqual([]);
  });
});

describe('applyTracing', () => {
  it('adds one group at the end of Stop, SubagentStop, StopFailure and SessionEnd and sets env, on an empty document', () => {
    const result = applyTracing({}, SPEC);
    expect(result.doc).toEqual({
      hooks: {
        Stop: [group(ours())],
        SubagentStop: [group(ours())],
        StopFailure: [group(ours())],
        SessionEnd: [group(oursAtSessionEnd())],
      },
      env: SPEC.env,
    });
    expect(result.changes).toEqual([
      'added Stop hook',
      'added SubagentStop hook',
      'added StopFailure hook',
      'added SessionEnd hook',
      'set MLFLOW_CLAUDE_TRACING_ENABLED',
      'set MLFLOW_TRACKING_URI',
      'set MLFLOW_EXPERIMENT_NAME',
    ]);
    expect(result.previous).toEqual({
      env: {
        MLFLOW_CLAUDE_TRACING_ENABLED: null,
        MLFLOW_TRACKING_URI: null,
        MLFLOW_EXPERIMENT_NAME: null,
        MLFLOW_EXPERIMENT_ID: null,
      },
      created: { env: true, hooks: true, events: ['Stop', 'SubagentStop', 'StopFailure', 'SessionEnd'] },
    });
  });

  it("keeps the user's keys, hooks, matchers and env exactly, in order, and appends ours last", () => {
    const input = {
      model: 'opus',
      hooks: {
        PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'lint' }] }],
        Stop: [{ matcher: '', hooks: [{ type: 'command', command: 'say done', timeout: 3 }] }],
      },
      env: { FOO: 'bar', MLFLOW_TRACKING_URI: 'http://old:5000', ZED: 'z' },
      permissions: { allow: ['Bash(git status)'] },
    };
    const snapshot = structuredClone(input);
    const { doc, previous, changes } = applyTracing(input, SPEC);
    expect(input).toEqual(snapshot);
    expect(Object.keys(doc)).toEqual(['model', 'hooks', 'env', 'permissions']);
    expect(Object.keys(hooksOf(doc))).toEqual(['PreToolUse', 'Stop', 'SubagentStop', 'StopFailure', 'SessionEnd']);
    expect(hooksOf(doc).PreToolUse).toEqual(input.hooks.PreToolUse);
    expect(hooksOf(doc).Stop).toEqual([...input.hooks.Stop, group(ours())]);
    expect(Object.keys(envOf(doc))).toEqual([
      'FOO',
      'MLFLOW_TRACKING_URI',
      'ZED',
      'MLFLOW_CLAUDE_TRACING_ENABLED',
      'MLFLOW_EXPERIMENT_NAME',
    ]);
    expect(envOf(doc).MLFLOW_TRACKING_URI).toBe('http://127.0.0.1:5000');
    expect(changes).toContain('updated MLFLOW_TRACKING_URI');
    expect(previous.env.MLFLOW_TRACKING_URI).toBe('http://old:5000');
    expect(previous.created).toEqual({ env: false, hooks: false, events: ['SubagentStop', 'StopFailure', 'SessionEnd'] });
  });

  it('is a no-op the second time', () => {
    const first = applyTracing({ env: { A: '1' }, hooks: { Stop: [group({ type: 'command', command: 'x' })] } }, SPEC);
    const second = applyTracing(first.doc, SPEC);
    expect(second.changes).toEqual([]);
    expect(JSON.stringify(second.doc)).toBe(JSON.stringify(first.doc));
  });

  it('updates an old hook of ours in place (different node and data folder)', () => {
    const input = {
      hooks: {
        Stop: [group({ type: 'command', command: 'echo before' }, ours(OLD_COMMAND, 30)), group({ type: 'command', command: 'after' })],
        SubagentStop: [group(ours(OLD_COMMAND, 5))],
        StopFailure: [group(ours(OLD_COMMAND, 5))],
        SessionEnd: [group(ours(OLD_COMMAND, 5))],
      },
    };
    const { doc, changes } = applyTracing(input, SPEC);
    expect(hooksOf(doc).Stop).toEqual([
      group({ type: 'command', command: 'echo before' }, ours()),
      group({ type: 'command', command: 'after' }),
    ]);
    expect(hooksOf(doc).SubagentStop).toEqual([group(ours())]);
    expect(hooksOf(doc).SessionEnd).toEqual([group(oursAtSessionEnd())]);
    expect(changes).toContain('updated Stop hook (command, timeout)');
    expect(changes).toContain('updated SubagentStop hook (command)');
    expect(changes).toContain('updated SessionEnd hook (command, timeout)');
    expect(changes.filter((line) => line.startsWith('added'))).toEqual([]);
  });

  it('keeps the other fields of an existing hook of ours', () => {
    const input = { hooks: { Stop: [group({ type: 'command', command: OLD_COMMAND, timeout: 5, statusMessage: 'tracing' })] } };
    const { doc } = applyTracing(input, SPEC);
    expect(hooksOf(doc).Stop).toEqual([group({ type: 'command', command: COMMAND, timeout: 5, statusMessage: 'tracing' })]);
  });

  it('collapses duplicates of ours, in any event and group, to one per hook event', () => {
    const input = {
      hooks: {
        PreToolUse: [
          { matcher: 'Bash', hooks: [ours(OLD_COMMAND)] },
          { matcher: 'Edit', hooks: [{ type: 'command', command: 'fmt' }] },
        ],
        Stop: [group(ours()), group({ type: 'command', command: 'keep' }, ours(OLD_COMMAND)), group(ours('npx claude-mlflow hook'))],
        SubagentStop: [group(ours(), ours())],
        StopFailure: [group(ours())],
        SessionEnd: [group(oursAtSessionEnd(), ours())],
        PreCompact: [group(ours())],
      },
    };
    const { doc, changes } = applyTracing(input, SPEC);
    expect(hooksOf(doc)).toEqual({
      PreToolUse: [{ matcher: 'Edit', hooks: [{ type: 'command', command: 'fmt' }] }],
      Stop: [group(ours()), group({ type: 'command', command: 'keep' })],
      SubagentStop: [group(ours())],
      StopFailure: [group(ours())],
      SessionEnd: [group(oursAtSessionEnd())],
    });
    expect(countOurHooks(doc)).toBe(4);
    expect(changes).toEqual(
      expect.arrayContaining([
        'removed a duplicate of our hook (hooks.PreToolUse[0].hooks[0])',
        'removed a duplicate of our hook (hooks.Stop[1].hooks[1])',
        'removed a duplicate of our hook (hooks.Stop[2].hooks[0])',
        'removed a duplicate of our hook (hooks.SubagentStop[0].hooks[1])',
        'removed a duplicate of our hook (hooks.SessionEnd[0].hooks[1])',
        'removed a duplicate of our hook (hooks.PreCompact[0].hooks[0])',
      ]),
    );
    expect(applyTracing(doc, SPEC).changes).toEqual([]);
  });

  it('sets the experiment name and deletes the id (and the other way round)', () => {
    const withId = { env: { MLFLOW_EXPERIMENT_ID: '7', OTHER: 'x' } };
    const byName = applyTracing(withId, SPEC);
    expect(envOf(byName.doc).MLFLOW_EXPERIMENT_ID).toBeUndefined();
    expect(byName.changes).toContain('removed MLFLOW_EXPERIMENT_ID');
    expect(byName.previous.env.MLFLOW_EXPERIMENT_ID).toBe('7');

    const idSpec = { ...SPEC, env: { MLFLOW_EXPERIMENT_ID: '12' } };
    const byId = applyTracing({ env: { MLFLOW_EXPERIMENT_NAME: 'old' } }, idSpec);
    expect(envOf(byId.doc)).toEqual({ MLFLOW_EXPERIMENT_ID: '12' });
  });

  it('migrates a legacy environment block into env and reports it', () => {
    const input = {
      model: 'sonnet',
      environment: { MLFLOW_TRACKING_URI: 'http://legacy:5000', MLFLOW_EXPERIMENT_NAME: 'legacy', CUSTOM: 'c' },
      permissions: {},
    };
    const { doc, changes, previous } = applyTracing(input, SPEC);
    expect(doc.environment).toBeUndefined();
    expect(Object.keys(doc)).toEqual(['model', 'env', 'permissions', 'hooks']);
    expect(envOf(doc)).toEqual({
      MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000',
      MLFLOW_EXPERIMENT_NAME: 'my-project',
      CUSTOM: 'c',
      MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
    });
    expect(changes[0]).toBe('moved environment → env (3 keys)');
    // Claude Code never read `environment`, so uninstall must not resurrect its values.
    expect(previous.env.MLFLOW_TRACKING_URI).toBeNull();
    expect(removeTracing(doc, previous).doc).toEqual({ model: 'sonnet', env: { CUSTOM: 'c' }, permissions: {} });
  });

  it('reports foreign tracers without removing them by default', () => {
    const input = {
      hooks: { Stop: [group({ type: 'command', command: PYTHON_HOOK })] },
      enabledPlugins: { 'mlflow-tracing@mlflow-plugins': true },
    };
    const { doc, foreign } = applyTracing(input, SPEC);
    expect(foreign.map((f) => f.kind)).toEqual(['mlflow-python-hook', 'mlflow-plugin']);
    expect(hooksOf(doc).Stop).toEqual([group({ type: 'command', command: PYTHON_HOOK }), group(ours())]);
    expect(doc.enabledPlugins).toEqual({ 'mlflow-tracing@mlflow-plugins': true });
  });

  it('removes foreign tracers when asked, keeping what shares their group', () => {
    const input = {
      hooks: {
        Stop: [
          group({ type: 'command', command: 'mlflow autolog claude stop-hook' }),
          {
            matcher: '',
            hooks: [
              { type: 'command', command: 'say done' },
              { type: 'command', command: PYTHON_HOOK },
            ],
          },
        ],
      },
      enabledPlugins: { 'mlflow-tracing@mlflow-plugins': true, 'other@x': true },
    };
    const { doc, foreign, changes } = applyTracing(input, SPEC, { removeForeign: true });
    expect(foreign).toHaveLength(3);
    expect(hooksOf(doc).Stop).toEqual([{ matcher: '', hooks: [{ type: 'command', command: 'say done' }] }, group(ours())]);
    expect(doc.enabledPlugins).toEqual({ 'mlflow-tracing@mlflow-plugins': false, 'other@x': true });
    expect(changes).toEqual(
      expect.arrayContaining([
        "removed MLflow's own hook (hooks.Stop[0].hooks[0])",
        "removed MLflow's own hook (hooks.Stop[1].hooks[1])",
        `disabled MLflow's plugin (enabledPlugins["mlflow-tracing@mlflow-plugins"])`,
      ]),
    );
    expect(findForeignTracers(doc)).toEqual([]);
  });

  it('refuses a document whose shape it cannot edit safely', () => {
    expect(() => applyTracing({ hooks: [] }, SPEC)).toThrow(/hooks/);
    expect(() => applyTracing({ env: 'x' }, SPEC)).toThrow(/env/);
  });
});

describe('shapeProblem', () => {
  it.each([
    [[], ''],
    [{ hooks: [] }, 'hooks'],
    [{ hooks: { Stop: {} } }, 'hooks.Stop'],
    [{ hooks: { Stop: ['x'] } }, 'hooks.Stop[0]'],
    [{ hooks: { Stop: [{ matcher: '' }] } }, 'hooks.Stop[0].hooks'],
    [{ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'a' }, 3] }] } }, 'hooks.Stop[0].hooks[1]'],
    [{ env: ['A=1'] }, 'env'],
    [{ enabledPlugins: 'mlflow' }, 'enabledPlugins'],
  ])('finds the problem in %j at %s', (doc, path) => {
    expect(shapeProblem(doc)?.path).toBe(path);
  });

  it('accepts good documents', () => {
    expect(shapeProblem({})).toBeUndefined();
    expect(shapeProblem({ hooks: { Stop: [{ hooks: [] }] }, env: {}, enabledPlugins: {}, other: [1] })).toBeUndefined();
  });
});

describe('removeTracing', () => {
  it('puts back exactly what was there, using the previous state', () => {
    const input = {
      env: { MLFLOW_TRACKING_URI: 'http://mine:1', KEEP: 'k' },
      hooks: { Stop: [group({ type: 'command', command: 'say' })] },
      model: 'x',
    };
    const applied = applyTracing(input, SPEC);
    const removed = removeTracing(applied.doc, applied.previous);
    expect(JSON.stringify(removed.doc)).toBe(JSON.stringify(input));
    expect(removed.changes).toEqual(
      expect.arrayContaining([
        'removed Stop hook',
        'removed SubagentStop hook',
        'restored MLFLOW_TRACKING_URI',
        'removed MLFLOW_EXPERIMENT_NAME',
      ]),
    );
  });

  it('drops env, hooks and events it created, and keeps the ones it did not', () => {
    expect(removeTracing(applyTracing({}, SPEC).doc, applyTracing({}, SPEC).previous).doc).toEqual({});
    const input = { hooks: { Stop: [] as unknown[] }, env: {} };
    const applied = applyTracing(input, SPEC);
    expect(removeTracing(applied.doc, applied.previous).doc).toEqual({ hooks: { Stop: [] }, env: {} });
  });

  it('without a previous state: removes every hook of ours and our env keys, and the containers it emptied', () => {
    const doc = {
      hooks: {
        Stop: [group({ type: 'command', command: 'say' }, ours()), group(ours(OLD_COMMAND))],
        SubagentStop: [group(ours())],
        PreToolUse: [] as unknown[],
      },
      env: { MLFLOW_TRACKING_URI: 'x', MLFLOW_EXPERIMENT_ID: '1', MLFLOW_CLAUDE_TRACING_ENABLED: 'true', OTHER: 'o' },
    };
    const { doc: out, changes } = removeTracing(doc);
    expect(out).toEqual({
      hooks: { Stop: [group({ type: 'command', command: 'say' })], PreToolUse: [] },
      env: { OTHER: 'o' },
    });
    expect(changes).toContain('removed MLFLOW_EXPERIMENT_ID');
    expect(removeTracing({ hooks: { Stop: [group(ours())] }, env: { MLFLOW_TRACKING_URI: 'x' } }).doc).toEqual({});
  });

  it('changes nothing on a document without tracing', () => {
    const doc = { hooks: { Stop: [group({ type: 'command', command: 'say' })] }, env: { A: 'b' } };
    const result = removeTracing(doc);
    expect(result.doc).toEqual(doc);
    expect(result.changes).toEqual([]);
  });
});

describe('setTracingEnabled', () => {
  it('switches MLFLOW_CLAUDE_TRACING_ENABLED in place and reports whether it changed', () => {
    const doc = { env: { A: '1', MLFLOW_CLAUDE_TRACING_ENABLED: 'true', B: '2' } };
    const off = setTracingEnabled(doc, false);
    expect(off.changed).toBe(true);
    expect(Object.entries(envOf(off.doc))).toEqual([
      ['A', '1'],
      ['MLFLOW_CLAUDE_TRACING_ENABLED', 'false'],
      ['B', '2'],
    ]);
    expect(doc.env.MLFLOW_CLAUDE_TRACING_ENABLED).toBe('true');
    expect(setTracingEnabled(off.doc, false).changed).toBe(false);
    expect(setTracingEnabled(off.doc, true)).toEqual({ doc, changed: true });
  });

  it('creates env when needed', () => {
    expect(setTracingEnabled({ model: 'x' }, true)).toEqual({
      doc: { model: 'x', env: { MLFLOW_CLAUDE_TRACING_ENABLED: 'true' } },
      changed: true,
    });
  });
});

describe('migrateLegacyEnvironment', () => {
  it('keeps env on a conflict and reports it; stringifies numbers; drops non-scalars', () => {
    const input = { env: { A: 'env-a' }, environment: { A: 'legacy-a', B: 'b', N: 3, O: { x: 1 } } };
    const result = migrateLegacyEnvironment(input);
    expect(result.doc).toEqual({ env: { A: 'env-a', B: 'b', N: '3' } });
    expect(result.moved).toEqual(['B', 'N']);
    expect(result.conflicts).toEqual(['A']);
    expect(result.skipped).toEqual(['O']);
    expect(input.environment.A).toBe('legacy-a');
  });

  it('reports the conflict in applyTracing', () => {
    const { changes } = applyTracing({ env: { X: '1' }, environment: { X: '2' } }, SPEC);
    expect(changes).toContain('kept env.X; environment.X differed and was dropped');
  });

  it('leaves a document without environment alone', () => {
    const result = migrateLegacyEnvironment({ env: { A: '1' } });
    expect(result).toMatchObject({ doc: { env: { A: '1' } }, moved: [], changed: false });
  });
});

describe('constants', () => {
  it('names our env keys and hook events', () => {
    expect([...OUR_ENV_KEYS].sort()).toEqual([
      'MLFLOW_CLAUDE_TRACING_ENABLED',
      'MLFLOW_EXPERIMENT_ID',
      'MLFLOW_EXPERIMENT_NAME',
      'MLFLOW_TRACKING_URI',
    ]);
    expect(HOOK_EVENTS).toEqual(['Stop', 'SubagentStop', 'StopFailure', 'SessionEnd']);
    expect(ourCommands(applyTracing({}, SPEC).doc)).toEqual({
      Stop: [COMMAND],
      SubagentStop: [COMMAND],
      StopFailure: [COMMAND],
      SessionEnd: [COMMAND],
    });
  });
});
