/** The pure checks: facts in, result out. */
import { describe, expect, it } from 'vitest';
import type { Facts, ScopeSettings } from '../../src/core/checks/facts.js';
import { isMlflowServerCommand } from '../../src/core/checks/processes.js';
import {
  CHECKS,
  exitCodeFor,
  findCheck,
  neededFacts,
  offeredFixes,
  runCheck,
  selectChecks,
  summarize,
} from '../../src/core/checks/registry.js';
import { sameTrackingUri } from '../../src/core/checks/server.js';
import { firstRelaxation } from '../../src/core/jsonc.js';
import { makeMasker, secretValues } from '../../src/core/mask.js';
import { filterOurHooks, stringifyEnv } from '../../src/doctor/settings-edits.js';
import { splitCommand } from '../../src/doctor/gather-host.js';
import { serverUrl, urlOf } from '../../src/services/server-url.js';
import { summaryLine } from '../../src/doctor/render.js';
import { barChart } from '../../src/status/render.js';
import { bucketTraces } from '../../src/status/collect.js';

const HOOK = '/usr/bin/node /data/runtime/claude-mlflow-hook.mjs';
const hookGroup = [{ hooks: [{ type: 'command', command: HOOK, timeout: 5 }] }];
const projectDoc = () => ({
  env: { MLFLOW_CLAUDE_TRACING_ENABLED: 'true', MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', MLFLOW_EXPERIMENT_NAME: 'app' },
  hooks: {
    Stop: structuredClone(hookGroup),
    SubagentStop: structuredClone(hookGroup),
    StopFailure: structuredClone(hookGroup),
    SessionEnd: structuredClone(hookGroup),
  },
});

function scope(scope: ScopeSettings['scope'], doc?: Record<string, unknown>, extra: Partial<ScopeSettings> = {}): ScopeSettings {
  return { scope, file: `/${scope}.json`, exists: doc !== undefined, parse: doc ? 'ok' : 'missing', ...(doc ? { doc } : {}), ...extra };
}

function healthy(): Facts {
  const now = Date.parse('2026-11-25T12:00:00Z');
  return {
    context: {
      cli: 'claude-mlflow',
      dataRoot: '/data',
      project: '/p',
      platform: 'linux',
      nodeVersion: '20.20.2',
      nodePath: '/usr/bin/node',
      floors: { node: '20.6.0' },
      configured: true,
      trackingUri: 'http://127.0.0.1:5000',
      experimentName: 'app',
      server: {
        manager: 'background',
        mlflowBin: '/data/venv/bin/mlflow',
        host: '127.0.0.1',
        port: 5000,
        backendStoreUri: 'sqlite:////data/mlflow.db',
        url: 'http://127.0.0.1:5000',
      },
      installs: [{ file: '/project.json', scope: 'project' }],
      redaction: { enabled: true, rules: 221, source: 'gitleaks v8.30.1 default rules', extraPatterns: 0, allow: 0, badPatterns: [] },
      files: {
        config: '/data/config.json',
        hookScript: '/data/runtime/claude-mlflow-hook.mjs',
        spool: '/data/spool',
        hookLog: '/data/logs/hook.log',
        serverLog: '/data/logs/server.log',
        pidFile: '/data/server.pid',
        venv: '/data/venv',
        database: '/data/mlflow.db',
      },
    },
    settings: { scopes: [scope('local'), scope('project', projectDoc()), scope('user')] },
    runtime: { script: '/data/runtime/claude-mlflow-hook.mjs', exists: true, current: true },
    hookProcess: {
      command: HOOK,
      scope: 'project',
      nodePath: '/usr/bin/node',
      nodeExists: true,
      nodeVersion: '20.20.2',
      scriptPath: '/data/runtime/claude-mlflow-hook.mjs',
      scriptExists: true,
      start: { exitCode: 0, ms: 80, timedOut: false, stderr: '' },
    },
    python: {
      local: true,
      floors: { python: '3.10.0', mlflow: '3.6.0' },
      mlflowBin: '/data/venv/bin/mlflow',
      mlflowBinExists: true,
      pythonBin: '/data/venv/bin/python',
      pythonExists: true,
      pythonVersion: '3.11.7',
      mlflowVersion: '3.12.0',
      ownVenv: true,
    },
    server: { url: 'http://127.0.0.1:5000', local: true, healthy: true, version: '3.12.0', ms: 20 },
    service: { manager: 'background', state: 'running', pid: 100, logTail: [] },
    port: {
      port: 5000,
      host: '127.0.0.1',
      free: false,
      holders: [{ pid: 101, command: 'python -m uvicorn --port 5000', pgid: 100, ours: true }],
    },
    database: {
      file: '/data/mlflow.db',
      exists: true,
      sizeBytes: 700_000,
      probe: { lock: 'free', quickCheck: ['ok'], journalMode: 'delete', traceCount: 3, oldestMs: now - 3 * 86400_000 },
      holders: [{ pid: 101, pgid: 100, role: 'our-server', ours: true }],
      nowMs: now,
    },
    spool: { dir: '/data/spool', count: 0, unreadable: 0, rejected: 0, nowMs: Date.now(), delivery: {} },
    hookLog: { file: '/data/logs/hook.log', nowMs: now },
    postgres: { applicable: false },
    linger: { applicable: false },
    deep: { requested: false },
  };
}

const status = (id: string, facts: Facts) => runCheck(findCheck(id)!, facts);

describe('checks', () => {
  it('has at least 15 checks besides --deep, with unique ids', () => {
    expect(CHECKS.filter((c) => !c.deep).length).toBeGreaterThanOrEqual(15);
    expect(new Set(CHECKS.map((c) => c.id)).size).toBe(CHECKS.length);
  });

  it('all pass (or skip where they do not apply) on a healthy setup', () => {
    const facts = healthy();
    for (const check of CHECKS) {
      const r = runCheck(check, facts);
      expect([check.id, r.status]).toEqual([
        check.id,
        ['linger', 'deep', 'pg-connection', 'pg-connections', 'pg-migration'].includes(check.id) ? 'skip' : 'ok',
      ]);
    }
  });

  it('each check reads only the facts it declares', () => {
    const full = healthy();
    for (const check of CHECKS) {
      const facts = new Proxy({} as Facts, {
        get(_t, key: string) {
          if (!check.needs.includes(key as keyof Facts)) throw new Error(`${check.id} read undeclared fact ${key}`);
          return full[key as keyof Facts];
        },
      });
      expect(() => check.run(facts)).not.toThrow();
    }
  });

  it('selects one check by id, all non-deep checks by default, and gathers only the needed facts', () => {
    expect(selectChecks({ check: 'port' }).map((c) => c.id)).toEqual(['port']);
    expect(selectChecks({}).some((c) => c.id === 'deep')).toBe(false);
    expect(selectChecks({ deep: true }).some((c) => c.id === 'deep')).toBe(true);
    expect(neededFacts(selectChecks({ check: 'settings-json' }))).toEqual(['settings']);
  });

  it('node: a hook on an old Node fails', () => {
    const f = healthy();
    f.hookProcess.nodeVersion = '18.19.0';
    expect(status('node', f)).toMatchObject({ status: 'fail', fix: { auto: 'rewrite-hook-command' } });
  });

  it('hook-runtime / hook-command / hook-starts', () => {
    const f = healthy();
    f.runtime = { script: f.runtime.script, exists: false };
    expect(status('hook-runtime', f)).toMatchObject({ status: 'fail', fix: { auto: 'reinstall-hook-runtime' } });
    f.hookProcess.nodeExists = false;
    expect(status('hook-command', f)).toMatchObject({ status: 'fail', fix: { auto: 'rewrite-hook-command' } });
    const g = healthy();
    g.hookProcess.start = { exitCode: 1, ms: 50, timedOut: false, stderr: 'SyntaxError: boom' };
    expect(status('hook-starts', g)).toMatchObject({ status: 'fail', details: ['SyntaxError: boom'] });
  });

  it('python / mlflow-installed / mlflow-version', () => {
    const f = healthy();
    f.python = {
      local: true,
      floors: { python: '3.10.0', mlflow: '3.6.0' },
      mlflowBin: '/data/venv/bin/mlflow',
      mlflowBinExists: false,
      pythonBin: '/data/venv/bin/python',
      pythonExists: false,
      ownVenv: true,
      system: null,
    };
    expect(status('python', f).status).toBe('fail');
    expect(status('mlflow-installed', f)).toMatchObject({ status: 'fail', fix: { auto: 'reinstall-mlflow' } });
    f.python.system = { path: '/usr/bin/python3', version: '3.12.1' };
    expect(status('python', f).status).toBe('ok');
    const g = healthy();
    g.python.mlflowVersion = '3.5.1';
    const r = status('mlflow-version', g);
    expect(r.status).toBe('fail');
    expect(r.fix?.command).toMatch(/ -I -m pip install --upgrade 'mlflow>=3.6.0' && /);
    g.python.mlflowVersion = '3.13.0';
    expect(status('mlflow-version', g).status).toBe('warn');
  });

  it('mlflow-version says whether the version is one we test', () => {
    const f = healthy();
    f.python.mlflowVersion = '3.17.2';
    f.server = { ...f.server, version: '3.17.2' } as typeof f.server;
    expect(status('mlflow-version', f)).toMatchObject({ status: 'ok', message: 'MLflow 3.17.2 ≥ 3.6.0, a version claude-mlflow tests' });
    f.python.mlflowVersion = '3.9.0';
    f.server = { ...f.server, version: '3.9.0' } as typeof f.server;
    expect(status('mlflow-version', f)).toMatchObject({
      status: 'ok',
      message: 'MLflow 3.9.0 ≥ 3.6.0, not a version claude-mlflow tests (3.6.0, 3.12.0, 3.17.2)',
    });
  });

  it('server and tracking-uri', () => {
    const f = healthy();
    f.server = { url: f.server.url, local: true, healthy: false, error: 'ECONNREFUSED' };
    expect(status('server', f)).toMatchObject({ status: 'fail', fix: { auto: 'start-server' } });
    const g = healthy();
    (g.settings.scopes[1]!.doc!.env as Record<string, string>).MLFLOW_TRACKING_URI = 'http://localhost:5000/';
    expect(status('tracking-uri', g).status).toBe('ok');
    (g.settings.scopes[1]!.doc!.env as Record<string, string>).MLFLOW_TRACKING_URI = 'http://127.0.0.1:5001';
    expect(status('tracking-uri', g)).toMatchObject({ status: 'fail', fix: { auto: 'set-tracking-uri' } });
  });

  it('server: a Databricks workspace is checked by its token, not by a /health it does not have', () => {
    const f = healthy();
    f.server = { url: 'databricks://dev', workspace: 'https://x.cloud.databricks.com', local: false, healthy: true, ms: 42 };
    expect(status('server', f)).toMatchObject({
      status: 'ok',
      message: 'the Databricks workspace at https://x.cloud.databricks.com takes the token of databricks://dev (42 ms)',
    });
    f.server = { url: 'databricks://dev', workspace: 'https://x.cloud.databricks.com', local: false, healthy: false, status: 401 };
    const r = status('server', f);
    expect(r.status).toBe('fail');
    expect(r.message).toBe(
      'The Databricks workspace at https://x.cloud.databricks.com does not take the token of databricks://dev (HTTP 401); traces are spooled meanwhile.',
    );
    expect(r.fix?.command).toContain('flush');
    f.server = { url: 'databricks://dev', local: false, healthy: false, signIn: 'databricks://dev: ~/.databrickscfg has no profile [dev]' };
    expect(status('server', f)).toMatchObject({
      status: 'fail',
      message: 'databricks://dev: ~/.databrickscfg has no profile [dev]: the hook cannot sign in to the workspace, so traces are spooled.',
      fix: { command: expect.stringContaining('~/.databrickscfg') },
    });
  });

  it('port: a foreign holder fails with PID, command and user; AirPlay on macOS 5000', () => {
    const f = healthy();
    f.context.platform = 'darwin';
    f.port.holders = [{ pid: 4242, command: 'ControlCenter', user: 'me', ours: false }];
    const r = status('port', f);
    expect(r).toMatchObject({ status: 'fail', fix: { auto: 'move-port' } });
    expect(r.details!.join('\n')).toContain('PID 4242 ControlCenter (user me)');
    expect(r.details!.join('\n')).toContain('AirPlay Receiver');
    f.port = { port: 5000, host: '127.0.0.1', free: true, holders: [] };
    expect(status('port', f).status).toBe('ok');
  });

  it('db-lock tells a stray second MLflow server and another writer from our server', () => {
    const f = healthy();
    f.database.probe!.lock = 'locked';
    f.database.holders = [
      { pid: 101, pgid: 100, role: 'our-server' },
      { pid: 777, command: 'python3 -c import sqlite3', role: 'other' },
    ];
    const r = status('db-lock', f);
    expect(r.status).toBe('fail');
    expect(r.message).toContain('not our server');
    expect(r.fix?.command).toBe('kill 777');
    f.database.holders = [{ pid: 101, pgid: 100, role: 'our-server' }];
    expect(status('db-lock', f).message).toContain('stuck writer');
    f.database.probe!.lock = 'free';
    f.database.holders = [{ pid: 900, command: 'mlflow server --port 6000', role: 'mlflow-server' }];
    expect(status('db-lock', f).status).toBe('warn');
  });

  it('db-health and db-size', () => {
    const f = healthy();
    f.database.probe!.quickCheck = ['*** in database main ***', 'Page 5: btreeInitPage() returns error code 11'];
    expect(status('db-health', f).status).toBe('fail');
    f.database.probe!.quickCheck = undefined;
    f.database.probe!.quickCheckError = 'database disk image is malformed';
    expect(status('db-health', f).status).toBe('fail');
    const g = healthy();
    g.database.probe!.traceCount = 50_000;
    expect(status('db-size', g)).toMatchObject({ status: 'warn', fix: { command: 'claude-mlflow cleanup --older-than 30d' } });
  });

  it('settings-json: a relaxed file fails with its position; a broken one too', () => {
    const f = healthy();
    f.settings.scopes[1] = { ...f.settings.scopes[1]!, parse: 'relaxed', relaxed: { line: 3, column: 5, kind: 'comment' } };
    const r = status('settings-json', f);
    expect(r).toMatchObject({ status: 'fail', fix: { auto: 'rewrite-strict-json' } });
    expect(r.message).toContain('Claude Code ignores this whole file');
    expect(r.message).toContain('/project.json:3:5');
    // and our hook in it does not count
    expect(status('hook-once', f)).toMatchObject({ status: 'fail', fix: { auto: 'rewrite-strict-json' } });
  });

  it('settings-json: a file with a key written twice fails, and says Claude Code still reads it', () => {
    const f = healthy();
    const detail = 'duplicate key "env": JSON keeps only the last value, so the one at 2:3 is lost; merge them by hand';
    f.settings.scopes[1] = { ...f.settings.scopes[1]!, parse: 'error', error: { line: 3, column: 3, detail } };
    const r = status('settings-json', f);
    expect(r.status).toBe('fail');
    expect(r.message).toContain('has a key written twice: Claude Code keeps only the last value');
    expect(r.message).not.toContain('cannot read');
    expect(r.details).toEqual([`${f.settings.scopes[1]!.file}:3:3: ${detail}`]);
    const g = healthy();
    g.settings.scopes[1] = { ...g.settings.scopes[1]!, parse: 'error', error: { line: 1, column: 2, detail: 'expected a value' } };
    expect(status('settings-json', g).message).toContain('Claude Code cannot read');
  });

  it('hook-once: twice across scopes fails; missing fails; Stop only warns', () => {
    const f = healthy();
    f.settings.scopes[2] = scope('user', projectDoc());
    expect(status('hook-once', f)).toMatchObject({ status: 'fail', fix: { auto: 'dedupe-hooks' } });
    const g = healthy();
    g.settings.scopes[1] = scope('project', { env: {} });
    expect(status('hook-once', g).status).toBe('fail');
    const h = healthy();
    delete (h.settings.scopes[1]!.doc!.hooks as Record<string, unknown>).SubagentStop;
    expect(status('hook-once', h).status).toBe('warn');
    expect(status('hook-once', h).message).toContain('not on SubagentStop: subagents that run in the background are not traced');
    delete (h.settings.scopes[1]!.doc!.hooks as Record<string, unknown>).SessionEnd;
    expect(status('hook-once', h).message).toContain('not on SubagentStop or SessionEnd');
    const s = healthy();
    (s.settings.scopes[1]!.doc!.hooks as Record<string, unknown[]>).SessionEnd!.push(structuredClone(hookGroup)[0]!);
    expect(status('hook-once', s)).toMatchObject({ status: 'fail', message: expect.stringContaining('2 times on SessionEnd') });
  });

  it('foreign-tracer, hooks-enabled, tracing-enabled, settings-env', () => {
    const f = healthy();
    (f.settings.scopes[1]!.doc!.hooks as Record<string, unknown[]>).Stop!.push({
      hooks: [{ type: 'command', command: 'mlflow autolog claude stop-hook' }],
    });
    expect(status('foreign-tracer', f).status).toBe('fail');

    const g = healthy();
    g.settings.scopes[0] = scope('local', { disableAllHooks: true });
    expect(status('hooks-enabled', g).status).toBe('fail');
    g.settings.scopes.unshift(scope('managed', { allowManagedHooksOnly: true }));
    g.settings.scopes[1] = scope('local');
    expect(status('hooks-enabled', g).status).toBe('fail');

    const h = healthy();
    (h.settings.scopes[1]!.doc!.env as Record<string, string>).MLFLOW_CLAUDE_TRACING_ENABLED = 'false';
    expect(status('tracing-enabled', h).status).toBe('warn');
    delete (h.settings.scopes[1]!.doc!.env as Record<string, string>).MLFLOW_CLAUDE_TRACING_ENABLED;
    expect(status('tracing-enabled', h)).toMatchObject({ status: 'fail', fix: { auto: 'enable-tracing' } });
    // a local file wins over the project file
    h.settings.scopes[0] = scope('local', { env: { MLFLOW_CLAUDE_TRACING_ENABLED: 'true' } });
    expect(status('tracing-enabled', h).status).toBe('ok');

    const e = healthy();
    e.settings.scopes[1]!.doc!.environment = { MLFLOW_TRACKING_URI: 'x' };
    expect(status('settings-env', e)).toMatchObject({ status: 'fail', fix: { auto: 'migrate-environment' } });
    const n = healthy();
    (n.settings.scopes[1]!.doc!.env as Record<string, unknown>).DEBUG = 1;
    expect(status('settings-env', n).details).toEqual(['/project.json: env.DEBUG is number, not a string']);
  });

  it('service shows the log tail; spool and hook-log', () => {
    const f = healthy();
    f.service = {
      manager: 'background',
      state: 'dead',
      pid: 100,
      logTail: ['Traceback', 'OSError: [Errno 98] Address already in use'],
      logFile: '/data/logs/server.log',
    };
    const r = status('service', f);
    expect(r).toMatchObject({ status: 'fail', fix: { auto: 'start-server' } });
    expect(r.details).toContain('  OSError: [Errno 98] Address already in use');
    // Traces in flight, with a delivery process at work: fine.
    const now = f.spool.nowMs!;
    f.spool.count = 2;
    f.spool.oldest = new Date(now - 3_000).toISOString();
    f.spool.delivery = { runningPid: 4242, lastSuccessAt: now - 60_000 };
    expect(status('spool', f)).toMatchObject({ status: 'ok', message: '2 traces waiting (the oldest for 3 s), being delivered' });
    expect(status('spool', f).details).toContain('a delivery process is at work (PID 4242)');
    // Nothing at work on them: a warning, with flush as the fix.
    f.spool.delivery = { lastSuccessAt: now - 60_000 };
    expect(status('spool', f)).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('no delivery process is at work'),
      fix: { auto: 'flush-spool' },
    });
    // The server refuses them, while the delivery process retries.
    f.spool.delivery = { runningPid: 4242, lastSuccessAt: now - 60_000, lastFailureAt: now - 1_000, lastError: 'connect ECONNREFUSED' };
    expect(status('spool', f)).toMatchObject({ status: 'warn', message: expect.stringContaining('the server does not take them') });
    expect(status('spool', f).details).toContain('last failure 1 s ago: connect ECONNREFUSED');
    // A trace that waited more than an hour is a warning whatever the delivery process does.
    f.spool.delivery = { runningPid: 4242, lastSuccessAt: now - 1_000 };
    f.spool.oldest = new Date(now - 2 * 3600_000).toISOString();
    expect(status('spool', f)).toMatchObject({ status: 'warn', message: expect.stringContaining('waited more than an hour') });
    f.hookLog.lastError = { at: new Date(f.hookLog.nowMs - 3600_000).toISOString(), text: 'export failed' };
    expect(status('hook-log', f).status).toBe('warn');
    f.hookLog.lastError.at = new Date(f.hookLog.nowMs - 3 * 86400_000).toISOString();
    expect(status('hook-log', f).status).toBe('ok');
    // Traces dropped from a full spool are lost: a warning, until a day has passed.
    f.hookLog.evicted = { count: 1, lastAt: new Date(f.hookLog.nowMs - 7200_000).toISOString() };
    expect(status('hook-log', f)).toMatchObject({
      status: 'warn',
      message: 'The spool was full: the hook dropped 1 trace without delivering it (last 2 h ago).',
    });
    f.hookLog.evicted.lastAt = new Date(f.hookLog.nowMs - 2 * 86400_000).toISOString();
    expect(status('hook-log', f).status).toBe('ok');
  });

  it('service under an OS service manager: installed, enabled and running', () => {
    const f = healthy();
    f.service = { manager: 'systemd', state: 'running', installed: true, enabled: true, pid: 5, logTail: [] };
    expect(status('service', f).status).toBe('ok');
    f.service.enabled = false;
    expect(status('service', f).status).toBe('warn');
    f.service = {
      manager: 'systemd',
      state: 'stopped',
      installed: true,
      enabled: true,
      logTail: ['boom'],
      logFile: '/data/logs/server.log',
    };
    expect(status('service', f)).toMatchObject({ status: 'fail', fix: { auto: 'start-server' } });
    f.service.installed = false;
    expect(status('service', f)).toMatchObject({ status: 'fail', fix: { command: 'claude-mlflow init' } });
    f.linger = { applicable: true, user: 'me', enabled: false };
    expect(status('linger', f)).toMatchObject({ status: 'warn', fix: { command: 'loginctl enable-linger me' } });
  });

  it('summary, exit code and the fix plan', () => {
    const f = healthy();
    f.server.healthy = false;
    f.service.state = 'no-pidfile';
    f.spool.count = 1;
    f.spool.delivery = { lastFailureAt: f.spool.nowMs, lastError: 'connect ECONNREFUSED' };
    f.hookLog.lastError = { text: 'boom' };
    const results = CHECKS.filter((c) => !c.deep).map((c) => runCheck(c, f));
    const s = summarize(results);
    expect(s).toMatchObject({ failed: 2, warnings: 2, problems: 2 });
    expect(summaryLine(s)).toMatch(new RegExp(`· ${CHECKS.filter((c) => !c.deep).length} checks, 2 problems$`));
    expect(summaryLine({ checks: 1, passed: 1, warnings: 0, failed: 0, skipped: 0, problems: 0 })).toBe('1 check, 0 problems');
    expect(exitCodeFor(results)).toBe(1);
    expect(offeredFixes(results)).toEqual(['start-server', 'flush-spool']);
    expect(exitCodeFor(results.filter((r) => r.status !== 'fail'))).toBe(0);
  });
});

describe('helpers', () => {
  it('finds the first comment or trailing comma, not inside strings', () => {
    expect(firstRelaxation('{\n  "a": "// not a comment",\n  // here\n  "b": 1\n}')).toEqual({ line: 3, column: 3, kind: 'comment' });
    expect(firstRelaxation('{\n  "a": [1, 2,],\n  "b": 1\n}')).toEqual({ line: 2, column: 13, kind: 'trailing-comma' });
    expect(firstRelaxation('{"a": 1, /* c */ }')).toEqual({ line: 1, column: 8, kind: 'trailing-comma' });
    expect(firstRelaxation('{"a": "x,}"}')).toBeUndefined();
  });

  it('masks tokens and URL credentials', () => {
    const mask = makeMasker(secretValues({ MLFLOW_TRACKING_TOKEN: 'sekrit-123', PATH: '/usr/bin' }));
    expect(mask('Authorization sekrit-123 at https://bob:pw@host:5000/x')).toBe('Authorization *** at https://***@host:5000/x');
    expect(mask('MLFLOW_TRACKING_PASSWORD=hunter2 and "API_KEY": "abc"')).toBe('MLFLOW_TRACKING_PASSWORD=*** and "API_KEY": "***"');
    expect(mask('Bearer abcdefgh and input_tokens: 12')).toBe('Bearer *** and input_tokens: 12');
  });

  it('recognises an mlflow server and its children, not a script that merely opens mlflow.db', () => {
    expect(isMlflowServerCommand('/v/bin/python3 /v/bin/mlflow server --backend-store-uri sqlite:////d/mlflow.db')).toBe(true);
    expect(isMlflowServerCommand('/v/bin/python3 -m uvicorn --host 127.0.0.1 --port 5000 mlflow.server.fastapi_app:app')).toBe(true);
    expect(isMlflowServerCommand("python -c import sqlite3; sqlite3.connect('/d/mlflow.db')")).toBe(false);
    expect(isMlflowServerCommand('mlflow autolog claude stop-hook')).toBe(false);
  });

  it("builds the server URL exactly as local-server's serverUrl does", () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', '192.168.1.5'])
      expect(urlOf(host, 5000)).toBe(serverUrl({ host, port: 5000 }));
  });

  it('compares tracking URIs loosely', () => {
    expect(sameTrackingUri('http://localhost:5000/', 'http://127.0.0.1:5000')).toBe(true);
    expect(sameTrackingUri('http://127.0.0.1:5000', 'http://127.0.0.1:5001')).toBe(false);
  });

  it('splits hook commands', () => {
    expect(splitCommand(`/usr/bin/node '/a b/claude-mlflow-hook.mjs'`)).toEqual(['/usr/bin/node', '/a b/claude-mlflow-hook.mjs']);
    expect(splitCommand(`"C:\\node.exe" x`)).toEqual(['C:\\node.exe', 'x']);
  });

  it('drops our duplicate hooks and keeps everything else', () => {
    const doc = {
      hooks: {
        Stop: [
          {
            hooks: [
              { type: 'command', command: 'echo hi' },
              { type: 'command', command: HOOK },
            ],
          },
          { hooks: [{ type: 'command', command: HOOK }] },
        ],
      },
    };
    const { doc: out, dropped } = filterOurHooks(doc, (_e, nth) => nth === 0);
    expect(dropped).toBe(1);
    expect(out).toEqual({
      hooks: {
        Stop: [
          {
            hooks: [
              { type: 'command', command: 'echo hi' },
              { type: 'command', command: HOOK },
            ],
          },
        ],
      },
    });
    expect(filterOurHooks(doc, () => false).doc).toEqual({ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'echo hi' }] }] } });
    expect(stringifyEnv({ env: { A: 1, B: true, C: 'x' } })).toEqual({ doc: { env: { A: '1', B: 'true', C: 'x' } }, changed: ['A', 'B'] });
  });

  it('buckets traces per local day and draws bars', () => {
    const now = new Date(2026, 10, 25, 15, 0, 0);
    const at = (daysBack: number) => new Date(2026, 10, 25 - daysBack, 10, 0, 0).toISOString();
    const usage = (n: number) => ({ 'mlflow.trace.tokenUsage': JSON.stringify({ total_tokens: n }) });
    const b = bucketTraces(
      [
        { request_time: at(0), trace_metadata: usage(10) },
        { request_time: at(0), trace_metadata: usage(5) },
        { request_time: at(3), trace_metadata: usage(100) },
        { request_time: at(20) },
      ],
      now,
    );
    expect(b.counts).toEqual({ today: 2, last7Days: 3, last30Days: 4 });
    expect(b.tokens).toEqual({ today: 15, last7Days: 115, last30Days: 115 });
    expect(b.daily).toHaveLength(14);
    expect(b.daily.at(-1)).toEqual({ date: '2026-11-25', traces: 2, tokens: 15, cost: 0 });
    const chart = barChart(
      b.daily.map((d) => d.traces),
      { title: 'Traces', labels: ['11-12', '11-25'] },
    );
    expect(chart).toHaveLength(6);
    expect(new Set(chart.map((l) => l.length)).size).toBe(1);
    expect(chart[1]!.trimEnd().endsWith('█')).toBe(true);
  });

  it('redaction: on with its rules; off is a warning with the way back; a pattern that does not compile is named', () => {
    expect(status('redaction', healthy())).toMatchObject({
      status: 'ok',
      message: 'on: 221 rules (gitleaks v8.30.1 default rules) and ours',
    });
    const off = healthy();
    off.context.redaction = { ...off.context.redaction!, enabled: false };
    expect(status('redaction', off)).toMatchObject({ status: 'warn', fix: { command: 'claude-mlflow init --redact' } });
    const bad = healthy();
    bad.context.redaction = { ...bad.context.redaction!, extraPatterns: 1, badPatterns: ['('] };
    expect(status('redaction', bad)).toMatchObject({ status: 'warn', details: ['('] });
  });
});
