/**
 * `init`, `enable`, `disable`, `uninstall` and `server` through the built CLI,
 * with a real MLflow (the test venv's, via --mlflow), real servers and real
 * settings files.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

let tmp: TempDir;
let remote: MlflowServer;
const started: Array<{ home: string; data: string }> = [];
let n = 0;

beforeAll(async () => {
  tmp = await makeTempDir();
  remote = await startMlflowServer();
});
afterAll(async () => {
  for (const s of started) await runCli(['server', 'stop'], s);
  await remote?.stop();
  await tmp?.cleanup();
});

function nonLoopbackAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && !a.internal && a.family === 'IPv4')
    .map((a) => a.address);
}

function connect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

function fresh(settings?: string) {
  n += 1;
  const root = path.join(tmp.path, `case-${n}`);
  const home = path.join(root, 'home');
  const project = path.join(root, 'my-app');
  const data = path.join(root, 'data');
  mkdirSync(home, { recursive: true });
  mkdirSync(path.join(project, '.claude'), { recursive: true });
  const file = path.join(project, '.claude', 'settings.json');
  if (settings !== undefined) writeFileSync(file, settings);
  return { home, project, data, file };
}

const USER_SETTINGS = `{
    "permissions": { "allow": ["Bash(npm test)"] },
    "env": { "EDITOR": "vim" },
    "hooks": {
        "Stop": [ { "hooks": [ { "type": "command", "command": "echo done" } ] } ],
        "PreToolUse": [ { "matcher": "Bash", "hooks": [ { "type": "command", "command": "./check.sh" } ] } ]
    }
}`;

describe('init with a local server', () => {
  it('sets everything up, says nothing changed the second time, and uninstall puts the file back', async () => {
    const c = fresh(USER_SETTINGS);
    const port = await freePort();
    const args = ['init', '--yes', '--project', c.project, '--port', String(port), '--no-service', '--mlflow', venvBin('mlflow')];
    const first = await runCli(args, c);
    started.push(c);
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    expect(first.stdout).toContain(`http://127.0.0.1:${port}/#/experiments/`);
    expect(first.stdout).toContain('claude-mlflow uninstall');

    const written = JSON.parse(readFileSync(c.file, 'utf8'));
    expect(written.permissions).toEqual({ allow: ['Bash(npm test)'] });
    expect(written.env).toEqual({
      EDITOR: 'vim',
      MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
      MLFLOW_EXPERIMENT_NAME: 'my-app',
    });
    expect(written.hooks.Stop).toHaveLength(2);
    expect(written.hooks.Stop[0].hooks[0].command).toBe('echo done');
    expect(written.hooks.Stop[1].hooks[0].command).toContain('claude-mlflow-hook.mjs');
    expect(written.hooks.SubagentStop).toHaveLength(1);
    expect(readFileSync(c.file, 'utf8').startsWith('{\n    "permissions"')).toBe(true);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.ok).toBe(true);
    // Loopback only: the machine's other addresses refuse the port.
    for (const address of nonLoopbackAddresses()) {
      await expect(connect(address, port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    }
    expect(statSync(path.join(c.data, 'mlflow.db')).mode & 0o777).toBe(0o600);
    expect(statSync(c.data).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(c.data, 'logs', 'server.log')).mode & 0o777).toBe(0o600);
    const exp = await fetch(`http://127.0.0.1:${port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=my-app`);
    expect(exp.ok).toBe(true);

    const bytes = readFileSync(c.file);
    const second = await runCli(args, c);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain('Already set up: nothing changed.');
    expect(readFileSync(c.file).equals(bytes)).toBe(true);

    const status = await runCli(['server', 'status', '--json'], c);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'running', healthy: true, port, manager: 'background' });

    // A new --port moves the server and the settings in one step.
    const newPort = await freePort();
    const moved = await runCli([...args.slice(0, 4), '--port', String(newPort), ...args.slice(6)], c);
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(JSON.parse(readFileSync(c.file, 'utf8')).env.MLFLOW_TRACKING_URI).toBe(`http://127.0.0.1:${newPort}`);
    expect((await fetch(`http://127.0.0.1:${newPort}/health`)).ok).toBe(true);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();

    const movedBytes = readFileSync(c.file);
    const dry = await runCli(['uninstall', '--project', c.project, '--dry-run'], c);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('Would: Remove claude-mlflow');
    expect(readFileSync(c.file).equals(movedBytes)).toBe(true);

    const gone = await runCli(['uninstall', '--project', c.project], c);
    expect(gone.exitCode, gone.stderr).toBe(0);
    expect(JSON.parse(readFileSync(c.file, 'utf8'))).toEqual(JSON.parse(USER_SETTINGS));
    expect(existsSync(path.join(c.data, 'runtime'))).toBe(false);
    expect(existsSync(path.join(c.data, 'mlflow.db'))).toBe(true);
    await expect(fetch(`http://127.0.0.1:${newPort}/health`)).rejects.toThrow();
  });

  it('moves to the next free port when 5000 is held by another program, and says who holds it', async () => {
    const holder = execa(process.execPath, ['-e', "require('net').createServer().listen(5000,'127.0.0.1',()=>console.log('up'))"], {
      reject: false,
    });
    const ready = await new Promise<boolean>((resolve) => {
      holder.stdout?.once('data', () => resolve(true));
      holder.once('exit', () => resolve(false));
    });
    try {
      if (!ready) return; // 5000 is taken on this machine already: the explicit-port case below covers the logic.
      const c = fresh();
      const run = await runCli(['init', '--yes', '--project', c.project, '--no-service', '--mlflow', venvBin('mlflow')], c);
      started.push(c);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`port 5000 is held by PID ${holder.pid} .*node`));
      const port = JSON.parse(readFileSync(c.file, 'utf8')).env.MLFLOW_TRACKING_URI.split(':').at(-1);
      expect(Number(port)).toBeGreaterThan(5000);
    } finally {
      holder.kill();
    }
  });

  it('refuses an explicit --port that another program holds, naming it, and writes nothing', async () => {
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as net.AddressInfo).port;
    try {
      const c = fresh();
      const run = await runCli(['init', '--yes', '--project', c.project, '--port', String(port), '--mlflow', venvBin('mlflow')], c);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`port ${port} is held by PID ${process.pid}`));
      expect(existsSync(c.file)).toBe(false);
      expect(existsSync(path.join(c.data, 'config.json'))).toBe(false);
    } finally {
      listener.close();
    }
  });
});

describe('a server that fails to start', () => {
  it('leaves its database 0600, never readable by others, and writes no settings', async () => {
    const c = fresh();
    const port = await freePort();
    // MLflow creates its tables, then cannot bind this address (TEST-NET-1, on no interface here) and exits.
    const run = await runCli(
      [
        'init',
        '--yes',
        '--no-service',
        '--host',
        '192.0.2.1',
        '--project',
        c.project,
        '--port',
        String(port),
        '--mlflow',
        venvBin('mlflow'),
      ],
      c,
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    // It says why, from the server's log, and where that log is.
    expect(run.stderr).toMatch(/exited before it answered .*\/health: .*(?:rror|ddress).* \(server log: .*server\.log\)/);
    const db = path.join(c.data, 'mlflow.db');
    expect(existsSync(db)).toBe(true);
    expect(statSync(db).size).toBeGreaterThan(0);
    expect(statSync(db).mode & 0o777).toBe(0o600);
    expect(statSync(c.data).mode & 0o777).toBe(0o700);
    expect(existsSync(c.file)).toBe(false);
  });
});

describe('init against a server the user already runs', () => {
  it('replaces MLflow’s own hook, rescues a JSONC file, and keeps a backup', async () => {
    const c = fresh(`{
  // tracing, the old way
  "hooks": { "Stop": [ { "hooks": [ { "type": "command", "command": "mlflow autolog claude stop-hook" } ] } ] },
  "environment": { "MLFLOW_CLAUDE_TRACING_ENABLED": "true" },
}
`);
    const run = await runCli(['init', '--yes', '--project', c.project, '--tracking-uri', remote.url, '--experiment', 'remote-1'], c);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('comments or trailing commas');
    const text = readFileSync(c.file, 'utf8');
    const doc = JSON.parse(text);
    expect(doc.environment).toBeUndefined();
    expect(doc.env.MLFLOW_TRACKING_URI).toBe(remote.url);
    const commands = JSON.stringify(doc.hooks);
    expect(commands).not.toContain('mlflow autolog claude');
    expect(doc.hooks.Stop).toHaveLength(1);
    expect(readFileSync(`${c.file}.claude-mlflow.bak`, 'utf8')).toContain('// tracing, the old way');
  });

  it('without a terminal or --yes, lists the flags to pass', async () => {
    const c = fresh();
    const run = await runCli(['init', '--project', c.project], c);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--scope');
    expect(run.stderr).toContain('--yes');
    expect(existsSync(c.file)).toBe(false);
  });

  it('20 concurrent inits on one project leave valid JSON with our hook exactly once', async () => {
    const c = fresh('{"model": "opus"}\n');
    const runs = await Promise.all(
      Array.from({ length: 20 }, () =>
        runCli(['init', '--yes', '--project', c.project, '--tracking-uri', remote.url, '--experiment', 'concurrent'], c),
      ),
    );
    for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(c.file, 'utf8'));
    expect(doc.model).toBe('opus');
    expect(doc.hooks.Stop).toHaveLength(1);
    expect(doc.hooks.SubagentStop).toHaveLength(1);
    expect(existsSync(`${c.file}.claude-mlflow.lock`)).toBe(false);
  });

  it('redaction: on by default, --no-redact switches it off with a warning, --redact back on; patterns go to config.json; a bad one is exit 2', async () => {
    const c = fresh();
    const base = ['init', '--yes', '--project', c.project, '--tracking-uri', remote.url];
    const config = () => JSON.parse(readFileSync(path.join(c.data, 'config.json'), 'utf8'));
    expect((await runCli(base, c)).exitCode).toBe(0);
    expect(config().redaction).toBeUndefined();
    const off = await runCli([...base, '--no-redact'], c);
    expect(off.exitCode, off.stderr).toBe(0);
    expect(off.stdout).toContain('Redaction is OFF (--no-redact)');
    expect(config().redaction).toEqual({ enabled: false });
    expect((await runCli([...base, '--redact', '--redact-pattern', 'ACME-\\d{4}', '--redact-allow', 'not-a-secret'], c)).exitCode).toBe(0);
    expect(config().redaction).toEqual({ enabled: true, extraPatterns: ['ACME-\\d{4}'], allow: ['not-a-secret'] });
    const bad = await runCli([...base, '--redact-pattern', '('], c);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(config().redaction).toEqual({ enabled: true, extraPatterns: ['ACME-\\d{4}'], allow: ['not-a-secret'] });
  });

  it('enable and disable flip MLFLOW_CLAUDE_TRACING_ENABLED in place', async () => {
    const c = fresh();
    expect((await runCli(['init', '--yes', '--project', c.project, '--tracking-uri', remote.url], c)).exitCode).toBe(0);
    const off = await runCli(['disable', '--project', c.project], c);
    expect(off.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(c.file, 'utf8')).env.MLFLOW_CLAUDE_TRACING_ENABLED).toBe('false');
    const on = await runCli(['enable', '--scope', 'project', '--project', c.project], c);
    expect(on.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(c.file, 'utf8')).env.MLFLOW_CLAUDE_TRACING_ENABLED).toBe('true');
  });

  it('uninstall of a project goes through when an unrelated user settings file does not parse, and names that file', async () => {
    const original = '{\n  "model": "sonnet"\n}\n';
    const c = fresh(original);
    expect((await runCli(['init', '--yes', '--project', c.project, '--tracking-uri', remote.url], c)).exitCode).toBe(0);
    const userFile = path.join(c.home, '.claude', 'settings.json');
    const broken = '{\n  "theme": "dark",\n  "oops": \n}\n';
    mkdirSync(path.dirname(userFile), { recursive: true });
    writeFileSync(userFile, broken);
    const run = await runCli(['uninstall', '--project', c.project], c);
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expect(readFileSync(c.file, 'utf8')).toBe(original);
    expect(readFileSync(userFile, 'utf8')).toBe(broken);
    expect(run.stdout).toMatch(new RegExp(`Could not read ${userFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:1: .*left as it is`));
    expect(existsSync(path.join(c.data, 'runtime'))).toBe(false);
  });

  it('uninstall removes a settings file that init created, and --purge asks first', async () => {
    const c = fresh();
    expect((await runCli(['init', '--yes', '--project', c.project, '--tracking-uri', remote.url], c)).exitCode).toBe(0);
    expect(existsSync(c.file)).toBe(true);
    const refused = await runCli(['uninstall', '--project', c.project, '--purge'], c);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(existsSync(c.file)).toBe(true);
    expect(existsSync(c.data)).toBe(true);
    const purged = await runCli(['uninstall', '--project', c.project, '--purge', '--yes'], c);
    expect(purged.exitCode, purged.stderr).toBe(0);
    expect(existsSync(c.file)).toBe(false);
    expect(existsSync(c.data)).toBe(false);
  });
});

describe('init on bad input changes nothing', () => {
  const cases: Array<[string, string | undefined, string[], number, RegExp]> = [
    ['a settings file with a syntax error', '{\n  "env": {\n    "A": "1"\n  ]\n}\n', [], 2, /settings\.json:4:3: /],
    ['hooks of the wrong type', '{\n  "model": "x",\n  "hooks": []\n}\n', [], 2, /settings\.json:3:\d+: .*hooks/],
    ['a missing Python', undefined, ['--python', '/nonexistent/python3'], 2, /\/nonexistent\/python3/],
    ['an unreachable --tracking-uri', undefined, ['--tracking-uri', 'http://127.0.0.1:9'], 1, /cannot reach the MLflow server/],
  ];
  it.each(cases)('%s', async (_name, settings, extra, code, message) => {
    const c = fresh(settings);
    const before = settings === undefined ? undefined : readFileSync(c.file, 'utf8');
    const args = ['init', '--yes', '--project', c.project, ...extra];
    if (!extra.includes('--tracking-uri')) args.push('--port', String(await freePort()));
    if (!extra.includes('--tracking-uri') && !extra.includes('--python')) args.push('--mlflow', venvBin('mlflow'));
    const run = await runCli(args, c);
    expect(run.exitCode).toBe(code);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    if (before === undefined) expect(existsSync(c.file)).toBe(false);
    else expect(readFileSync(c.file, 'utf8')).toBe(before);
    expect(existsSync(path.join(c.data, 'config.json'))).toBe(false);
    expect(existsSync(path.join(c.data, 'server.pid'))).toBe(false);
  });

  it('a settings folder that cannot be written', async () => {
    const c = fresh();
    // A file where the .claude folder should be: no one can create settings.json under it.
    const project = path.join(path.dirname(c.project), 'blocked');
    mkdirSync(project);
    writeFileSync(path.join(project, '.claude'), 'not a folder');
    const run = await runCli(['init', '--yes', '--project', project, '--tracking-uri', remote.url], c);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/\.claude/);
    expect(existsSync(path.join(c.data, 'config.json'))).toBe(false);
  });
});
