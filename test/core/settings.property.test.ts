/**
 * Property tests for applyTracing / removeTracing over generated Claude Code
 * settings documents: other top-level keys (permissions, model, nested
 * objects), other hooks in every hook event the schema names, random env vars
 * (sometimes our own MLFLOW_* ones already), and sometimes no `hooks` or `env`.
 *
 * Rendered output is validated against Claude Code's settings JSON Schema
 * (test/fixtures/schemas/claude-code-settings.schema.json).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderSettings, type SettingsFormat } from '../../src/adapters/settings-file.js';
import {
  applyTracing,
  HOOK_EVENTS,
  isOurHookCommand,
  OUR_ENV_KEYS,
  removeTracing,
  SESSION_END_TIMEOUT_SEC,
  type PreviousState,
  type TracingSpec,
} from '../../src/core/settings.js';

type Doc = Record<string, unknown>;

const RUNS = 500;

const schemaFile = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'schemas',
  'claude-code-settings.schema.json',
);
const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as {
  $schema: string;
  properties: { hooks: { properties: Record<string, unknown> }; [key: string]: unknown };
};

/** Every hook event the schema names. */
const SCHEMA_EVENTS = Object.keys(schema.properties.hooks.properties);

// The schema declares draft-07, which is what Ajv's default export implements.
// It uses a keyword Ajv's strict mode rejects ("allowTrailingCommas", a VS Code annotation), hence strict: false.
const ajv = new Ajv({ strict: false, allErrors: true });
// ajv-formats is CommonJS: under NodeNext its plugin is the module's `default`.
ajvFormats.default(ajv);
const validate = ajv.compile(schema);

// ---------------------------------------------------------------------------
// Generators

const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
const text = fc.string({ maxLength: 30 });
const nonEmptyText = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !isOurHookCommand(s));

const commandHook = fc.record(
  {
    type: fc.constant('command'),
    command: fc.oneof(
      nonEmptyText,
      fc.constantFrom(
        'prettier --write',
        'say done',
        'echo "$CLAUDE_PROJECT_DIR"',
        'mlflow server',
        // MLflow's own tracers: reported, but left alone unless removeForeign.
        'mlflow autolog claude stop-hook',
        'python -c "from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()"',
      ),
    ),
    timeout: fc.integer({ min: 1, max: 600 }),
    async: fc.boolean(),
    statusMessage: text,
  },
  { requiredKeys: ['type', 'command'] },
);
const promptHook = fc.record(
  { type: fc.constant('prompt'), prompt: fc.string({ minLength: 1, maxLength: 20 }), timeout: fc.integer({ min: 1, max: 60 }) },
  { requiredKeys: ['type', 'prompt'] },
);
const httpHook = fc.record({ type: fc.constant('http'), url: fc.webUrl() }, { requiredKeys: ['type', 'url'] });
const hookEntry = fc.oneof({ weight: 4, arbitrary: commandHook }, promptHook, httpHook);

const hookGroup = fc.record(
  { matcher: fc.oneof(fc.constantFrom('', '*', 'Bash', 'Edit|Write', 'mcp__.*'), text), hooks: fc.array(hookEntry, { maxLength: 3 }) },
  { requiredKeys: ['hooks'] },
);

const hooksObject = fc
  .shuffledSubarray(SCHEMA_EVENTS)
  .chain((events) => fc.tuple(...events.map((event) => fc.tuple(fc.constant(event), fc.array(hookGroup, { maxLength: 3 })))))
  .map((entries) => Object.fromEntries(entries));

const ourEnvValue = fc.constantFrom(...OUR_ENV_KEYS).chain((key) => fc.tuple(fc.constant(key), text));
const userEnvValue = fc.tuple(fc.stringMatching(/^USER_[A-Z0-9_]{0,8}$/), text);
const envObject = fc
  .array(fc.oneof({ weight: 3, arbitrary: userEnvValue }, ourEnvValue), { maxLength: 8 })
  .map((entries) => Object.fromEntries(entries));

const RULES = ['Bash', 'Bash(git status)', 'Bash(npm run test:*)', 'Read(*.env)', 'Edit', 'WebFetch(domain:example.com)', 'mcp__github'];
const permissions = fc.record(
  {
    allow: fc.uniqueArray(fc.constantFrom(...RULES), { maxLength: 3 }),
    deny: fc.uniqueArray(fc.constantFrom(...RULES), { maxLength: 3 }),
    defaultMode: fc.constantFrom('default', 'acceptEdits', 'plan'),
  },
  { requiredKeys: [] },
);

const plugins = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constant('mlflow-tracing@mlflow-plugins'),
        word.map((w) => `${w}@market`),
      ),
      fc.boolean(),
    ),
    { maxLength: 3 },
  )
  .map((entries) => Object.fromEntries(entries));

/**
 * Keys the schema does not name, with arbitrary nested JSON, as it reads back
 * from a file (-0 is written as 0).
 */
const customEntry = fc.tuple(
  word.map((w) => `x-${w}`),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown),
);

const topLevelEntry = fc.oneof(
  fc.tuple(fc.constant('hooks'), hooksObject),
  fc.tuple(fc.constant('env'), envObject),
  fc.tuple(fc.constant('permissions'), permissions),
  fc.tuple(fc.constant('model'), fc.constantFrom('opus', 'sonnet', 'claude-sonnet-4-5')),
  fc.tuple(fc.constant('enabledPlugins'), plugins),
  fc.tuple(fc.constant('disableAllHooks'), fc.boolean()),
  fc.tuple(fc.constant('cleanupPeriodDays'), fc.integer({ min: 1, max: 365 })),
  fc.tuple(fc.constant('statusLine'), fc.constant({ type: 'command', command: 'echo status' })),
  customEntry,
);

/** A settings document; hooks and env are each present in about half of them. */
const settingsDoc: fc.Arbitrary<Doc> = fc
  .array(topLevelEntry, { maxLength: 9 })
  .chain((entries) => fc.shuffledSubarray(entries, { minLength: entries.length }))
  .map((entries) => Object.fromEntries(entries));

const spec: fc.Arbitrary<TracingSpec> = fc.record({
  hookCommand: fc.constantFrom(
    `/usr/bin/node '/home/u/.local/share/claude-mlflow/runtime/claude-mlflow-hook.mjs'`,
    `"C:\\Program Files\\nodejs\\node.exe" "C:\\Users\\u\\AppData\\Local\\claude-mlflow\\runtime\\claude-mlflow-hook.mjs"`,
    'npx claude-mlflow hook',
  ),
  timeoutSec: fc.integer({ min: 1, max: 30 }),
  env: fc
    .record({
      MLFLOW_CLAUDE_TRACING_ENABLED: fc.constant('true'),
      MLFLOW_TRACKING_URI: fc.webUrl(),
      experiment: fc.oneof(
        word.map((name) => ['MLFLOW_EXPERIMENT_NAME', name] as const),
        fc.nat().map((id) => ['MLFLOW_EXPERIMENT_ID', String(id)] as const),
      ),
    })
    .map(({ experiment, ...rest }) => ({ ...rest, [experiment[0]]: experiment[1] })),
});

const format: fc.Arbitrary<SettingsFormat> = fc.record({
  indent: fc.constantFrom('  ', '    ', '\t'),
  trailingNewline: fc.boolean(),
});

// ---------------------------------------------------------------------------
// Helpers

function isObject(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ourGroup(s: TracingSpec, event: string): Doc {
  const timeout = event === 'SessionEnd' ? Math.min(s.timeoutSec, SESSION_END_TIMEOUT_SEC) : s.timeoutSec;
  return { hooks: [{ type: 'command', command: s.hookCommand, timeout }] };
}

/** How many of our hooks each event has. */
function ourHookCounts(doc: Doc): Record<string, number> {
  const counts: Record<string, number> = {};
  if (!isObject(doc.hooks)) return counts;
  for (const [event, groups] of Object.entries(doc.hooks)) {
    for (const group of groups as Doc[]) {
      for (const hook of group.hooks as Doc[]) {
        if (typeof hook.command === 'string' && isOurHookCommand(hook.command)) counts[event] = (counts[event] ?? 0) + 1;
      }
    }
  }
  return counts;
}

/** `doc` without our env keys (an experiment key the apply deleted counts as ours). */
function withoutOurEnv(doc: Doc): Doc {
  const out = structuredClone(doc);
  if (isObject(out.env)) for (const key of OUR_ENV_KEYS) delete out.env[key];
  return out;
}

/**
 * Undo exactly our additions, independently of removeTracing: our group at
 * the end of each HOOK_EVENT, the containers `previous` says we created, and
 * our env keys.
 */
function stripOurAdditions(applied: Doc, previous: PreviousState, s: TracingSpec): Doc {
  const out = withoutOurEnv(applied);
  const hooks = out.hooks as Record<string, Doc[]>;
  for (const event of HOOK_EVENTS) {
    const last = hooks[event]!.pop();
    expect(last).toEqual(ourGroup(s, event));
    if (previous.created.events.includes(event)) {
      expect(hooks[event]).toEqual([]);
      delete hooks[event];
    }
  }
  if (previous.created.hooks) {
    expect(hooks).toEqual({});
    delete out.hooks;
  }
  if (previous.created.env) {
    expect(out.env).toEqual({});
    delete out.env;
  }
  return out;
}

const seenEvents = new Set<string>();

describe('applyTracing over generated settings', () => {
  it('(a) leaves every user key intact and adds our hook exactly once per hook event', () => {
    fc.assert(
      fc.property(settingsDoc, spec, (input, s) => {
        if (isObject(input.hooks)) for (const event of Object.keys(input.hooks)) seenEvents.add(event);
        const before = JSON.stringify(input);
        const { doc, previous } = applyTracing(input, s);
        expect(JSON.stringify(input)).toBe(before);
        const counts = ourHookCounts(doc);
        expect(counts).toEqual(Object.fromEntries(HOOK_EVENTS.map((event) => [event, 1])));
        for (const [key, value] of Object.entries(s.env)) expect((doc.env as Doc)[key]).toBe(value);
        // Key order too: compare the serialised text, not just deep equality.
        expect(JSON.stringify(stripOurAdditions(doc, previous, s))).toBe(JSON.stringify(withoutOurEnv(input)));
      }),
      { numRuns: RUNS },
    );
    // The generator really did put hooks in every event the schema names.
    expect([...seenEvents].sort()).toEqual([...SCHEMA_EVENTS].sort());
  });

  it('(b) renders strict JSON that the Claude Code settings schema accepts', () => {
    fc.assert(
      fc.property(settingsDoc, spec, format, (input, s, f) => {
        const { doc } = applyTracing(input, s);
        const rendered = renderSettings(doc, f);
        const parsed: unknown = JSON.parse(rendered);
        expect(parsed).toEqual(doc);
        expect(rendered.endsWith('\n')).toBe(f.trailingNewline);
        const ok = validate(parsed);
        expect(ok ? [] : validate.errors).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('(c) a second apply renders byte-identical text and reports no changes', () => {
    fc.assert(
      fc.property(settingsDoc, spec, format, (input, s, f) => {
        const first = applyTracing(input, s);
        const second = applyTracing(first.doc, s);
        expect(second.changes).toEqual([]);
        expect(renderSettings(second.doc, f)).toBe(renderSettings(first.doc, f));
      }),
      { numRuns: RUNS },
    );
  });

  it('(d) removeTracing with the previous state gives back the original document', () => {
    fc.assert(
      fc.property(settingsDoc, spec, (input, s) => {
        const { doc, previous } = applyTracing(input, s);
        const removed = removeTracing(doc, previous).doc;
        expect(removed).toEqual(input);
        // Key order is restored too, unless applying had to delete an experiment key
        // (name vs id), which comes back at the end of env.
        const deletedKey = isObject(input.env) && Object.keys(input.env).some((key) => !(key in (doc.env as Doc)));
        if (!deletedKey) expect(JSON.stringify(removed)).toBe(JSON.stringify(input));
      }),
      { numRuns: RUNS },
    );
  });

  it('(e) stray and outdated copies of our hook collapse to one up-to-date hook per event', () => {
    const OLD = `/old/node '/old/data/runtime/claude-mlflow-hook.mjs'`;
    const withStrays = settingsDoc.chain((doc) =>
      fc.array(fc.tuple(fc.constantFrom(...SCHEMA_EVENTS), fc.nat(), fc.nat()), { minLength: 1, maxLength: 5 }).map((places) => {
        const out = structuredClone(doc);
        const hooks = (isObject(out.hooks) ? out.hooks : (out.hooks = {})) as Record<string, Doc[]>;
        for (const [event, g, h] of places) {
          const groups = (hooks[event] ??= []);
          if (groups.length === 0 || g % 2 === 0) groups.push({ hooks: [] });
          const group = groups[g % groups.length]!;
          const entries = group.hooks as Doc[];
          entries.splice(h % (entries.length + 1), 0, { type: 'command', command: OLD, timeout: 1 });
        }
        return out;
      }),
    );
    fc.assert(
      fc.property(withStrays, spec, (input, s) => {
        const { doc } = applyTracing(input, s);
        expect(ourHookCounts(doc)).toEqual(Object.fromEntries(HOOK_EVENTS.map((event) => [event, 1])));
        expect(JSON.stringify(doc)).not.toContain('/old/data/runtime');
        expect(applyTracing(doc, s).changes).toEqual([]);
        expect(ourHookCounts(removeTracing(doc).doc)).toEqual({});
      }),
      { numRuns: RUNS },
    );
  });
});
