/** The runtime and the Python and MLflow groups: Node, the hook runtime and command, Python, MLflow. */
import semver from 'semver';
import { isTestedMlflow, TESTED_MLFLOW_VERSIONS } from '../mlflow-versions.js';
import { commandLine } from '../shell-quote.js';
import { isolatedPython } from '../python-isolated.js';
import type { Check } from './check.js';
import { doctorFix, ok, reinstallHookRuntime, restartServer, skip, skipNotSetUp } from './outcomes.js';

/** The hook runtime must start and exit (tracing off) within this. */
export const HOOK_START_LIMIT_MS = 3000;

function atLeast(version: string | undefined, floor: string): boolean | undefined {
  const v = version ? semver.coerce(version) : null;
  return v ? semver.gte(v, floor) : undefined;
}

export const nodeCheck: Check = {
  id: 'node',
  group: 'runtime',
  title: 'Node.js version',
  needs: ['context', 'hookProcess'],
  run({ context, hookProcess }) {
    const floor = context.floors.node;
    const details = [`claude-mlflow runs on Node ${context.nodeVersion} (${context.nodePath})`];
    if (hookProcess.nodeVersion) details.push(`the hook runs on Node ${hookProcess.nodeVersion} (${hookProcess.nodePath})`);
    if (atLeast(context.nodeVersion, floor) === false) {
      return {
        status: 'fail',
        message: `Node ${context.nodeVersion} is older than ${floor}.`,
        details,
        fix: {
          command: `install Node.js ${floor.replace(/\.0$/, '')} or newer (https://nodejs.org), then run \`claude-mlflow init\` again`,
        },
      };
    }
    if (hookProcess.nodeVersion && atLeast(hookProcess.nodeVersion, floor) === false) {
      return {
        status: 'fail',
        message: `The hook runs on Node ${hookProcess.nodeVersion} (${hookProcess.nodePath}), older than ${floor}.`,
        details,
        fix: doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    return ok(
      `Node ${context.nodeVersion}${hookProcess.nodeVersion && hookProcess.nodeVersion !== context.nodeVersion ? `; the hook uses Node ${hookProcess.nodeVersion}` : ''}`,
      details,
    );
  },
};

export const hookRuntimeCheck: Check = {
  id: 'hook-runtime',
  group: 'runtime',
  title: 'Hook runtime installed',
  needs: ['context', 'runtime'],
  run({ context, runtime }) {
    const unset = skipNotSetUp({ context });
    if (unset && !runtime.exists) return unset;
    if (!runtime.exists) {
      return {
        status: 'fail',
        message: `The hook runtime ${runtime.script} is missing: Claude Code cannot run our hook.`,
        fix: reinstallHookRuntime(context.cli),
      };
    }
    if (runtime.current === false) {
      return {
        status: 'warn',
        message: `The hook runtime ${runtime.script} is from another claude-mlflow version.`,
        fix: reinstallHookRuntime(context.cli),
      };
    }
    return ok(`${runtime.script}`);
  },
};

export const hookCommandCheck: Check = {
  id: 'hook-command',
  group: 'runtime',
  title: 'Hook command points at a node and a script that exist',
  needs: ['context', 'hookProcess'],
  run({ context, hookProcess: h }) {
    if (!h.command) return skip('No hook of ours in the settings Claude Code reads (see hook-once).');
    const details = [`command: ${h.command}`, `from ${h.scope} settings`];
    if (!h.nodePath || !h.scriptPath) {
      return { status: 'warn', message: 'The hook command is not `<node> <script>`: doctor cannot check its parts.', details };
    }
    if (!h.nodeExists) {
      return {
        status: 'fail',
        message: `The hook command runs ${h.nodePath}, which does not exist (Node moved or was upgraded?).`,
        details,
        fix: doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    if (!h.scriptExists) {
      const own = h.scriptPath === context.files.hookScript;
      return {
        status: 'fail',
        message: `The hook command runs ${h.scriptPath}, which does not exist.`,
        details,
        fix: own ? reinstallHookRuntime(context.cli) : doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    if (h.notOurs) {
      return {
        status: 'warn',
        message: `The hook command runs ${h.nodePath} ${h.scriptPath}, not this node (${context.nodePath}) and the runtime in the data folder; doctor runs none of it.`,
        details,
        fix: doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    return ok(h.command, details);
  },
};

export const hookStartsCheck: Check = {
  id: 'hook-starts',
  group: 'runtime',
  title: 'Hook runtime starts',
  needs: ['hookProcess'],
  run({ hookProcess: h }) {
    if (h.notOurs)
      return skip(
        `The hook command is not exactly ours (this node, and the runtime in the data folder), so doctor runs none of it: ${h.command}`,
      );
    if (!h.start) return skip(h.command ? 'The hook command cannot be started (see hook-command).' : 'No hook command to start.');
    const { exitCode, ms, timedOut, stderr } = h.start;
    const tail = stderr.trim().split('\n').filter(Boolean).slice(-5);
    if (timedOut) return { status: 'fail', message: `The hook runtime did not exit within ${HOOK_START_LIMIT_MS} ms.`, details: tail };
    if (exitCode !== 0) return { status: 'fail', message: `The hook runtime exited with ${exitCode ?? 'a signal'}.`, details: tail };
    return ok(`starts and exits cleanly in ${Math.round(ms)} ms`);
  },
};

export const pythonCheck: Check = {
  id: 'python',
  group: 'python',
  title: 'Python found',
  needs: ['python'],
  run({ python: p }) {
    if (!p.local) return skip('No local server: MLflow runs elsewhere.');
    if (p.pythonExists && p.pythonVersion) return ok(`Python ${p.pythonVersion} (${p.pythonBin})`);
    if (p.system) {
      return ok(
        `Python ${p.system.version} (${p.system.path}); the venv's own Python ${p.pythonBin ?? ''} is missing (see mlflow-installed)`,
      );
    }
    return {
      status: 'fail',
      message: `No Python 3.10 or newer: neither the venv's ${p.pythonBin ?? 'python'} nor one on PATH.`,
      details: p.error ? [p.error] : undefined,
      fix: { command: 'install Python 3.10 or newer (https://www.python.org/downloads/), then run `claude-mlflow init`' },
    };
  },
};

export const mlflowInstalledCheck: Check = {
  id: 'mlflow-installed',
  group: 'python',
  title: 'MLflow installed in the venv',
  needs: ['context', 'python'],
  run({ context, python: p }) {
    const unset = skipNotSetUp({ context });
    if (unset) return unset;
    if (!p.local) return skip('No local server: MLflow runs elsewhere.');
    const fix = p.ownVenv ? { command: `${context.cli} init`, auto: 'reinstall-mlflow' as const } : { command: `${context.cli} init` };
    const details = p.error ? [p.error] : undefined;
    if (!p.mlflowBinExists) {
      return { status: 'fail', message: `${p.mlflowBin} does not exist: the venv is missing or broken.`, details, fix };
    }
    if (!p.mlflowVersion) {
      return { status: 'fail', message: `MLflow is not installed in ${p.pythonBin ?? 'the venv'}.`, details, fix };
    }
    return ok(`MLflow ${p.mlflowVersion} (${p.mlflowBin})`);
  },
};

export const mlflowVersionCheck: Check = {
  id: 'mlflow-version',
  group: 'python',
  title: 'MLflow version',
  needs: ['context', 'python', 'server'],
  run({ context, python: p, server }) {
    const floor = p.floors.mlflow;
    const installed = p.local ? p.mlflowVersion : undefined;
    const running = server.healthy ? server.version : undefined;
    const version = installed ?? running;
    if (!version) return skip('MLflow version unknown (see mlflow-installed and server).');
    const upgrade = p.pythonBin
      ? `${commandLine(isolatedPython(p.pythonBin, '-m', 'pip', 'install', '--upgrade', `mlflow>=${floor}`), context.platform)} && ${context.cli} server stop && ${context.cli} server start`
      : `pip install --upgrade 'mlflow>=${floor}'`;
    for (const [what, v] of [
      ['installed', installed],
      ['server', running],
    ] as const) {
      if (v && atLeast(v, floor) === false) {
        return {
          status: 'fail',
          message: `MLflow ${v} (${what}) is older than ${floor}, the first release that ingests OTLP traces at /v1/traces.`,
          fix: { command: upgrade },
        };
      }
    }
    if (installed && running && semver.coerce(installed)?.version !== semver.coerce(running)?.version && server.local) {
      return {
        status: 'warn',
        message: `The server runs MLflow ${running} but the venv has ${installed}: restart the server.`,
        fix: restartServer(context.cli),
      };
    }
    const tested = isTestedMlflow(semver.coerce(version)?.version ?? version);
    return ok(
      `MLflow ${version} ≥ ${floor}, ${tested ? 'a version claude-mlflow tests' : `not a version claude-mlflow tests (${TESTED_MLFLOW_VERSIONS.join(', ')})`}`,
    );
  },
};
