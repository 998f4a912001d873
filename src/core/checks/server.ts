/** The server group: the tracking server answers, settings point at it, and its port is ours. */
import type { Check } from './check.js';
import type { ServerFacts } from './facts.js';
import { doctorFix, notSetUp, ok, skip, skipNotSetUp, startServer } from './outcomes.js';
import { describeProcess, isMlflowServerCommand, pidsOf } from './processes.js';
import { effectiveEnv, scopeLabel } from './settings-derived.js';

/** The same URL, normalised for comparison: localhost = 127.0.0.1, no trailing slash, default ports. */
export function sameTrackingUri(a: string, b: string): boolean {
  const norm = (u: string): string => {
    try {
      const url = new URL(u.trim());
      const host = url.hostname === 'localhost' || url.hostname === '[::1]' || url.hostname === '::1' ? '127.0.0.1' : url.hostname;
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      return `${url.protocol}//${host}:${port}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return u.trim().replace(/\/+$/, '');
    }
  };
  return norm(a) === norm(b);
}

/** Why the server (or workspace) did not answer: its HTTP status, or the error. */
function whyNoAnswer(server: ServerFacts): string {
  return server.status !== undefined ? `HTTP ${server.status}` : (server.error ?? 'no answer');
}

export const serverCheck: Check = {
  id: 'server',
  group: 'server',
  title: 'Server reachable (/health, /version)',
  needs: ['context', 'server', 'service'],
  run({ context, server, service }) {
    const missing = notSetUp({ context });
    if (missing) return missing;
    if (!server.url) return { status: 'fail', message: 'No tracking URI configured.', fix: { command: `${context.cli} init` } };
    if (server.signIn) {
      return {
        status: 'fail',
        message: `${server.signIn}: the hook cannot sign in to the workspace, so traces are spooled.`,
        fix: {
          command:
            'add the profile (host and token) to ~/.databrickscfg, or set DATABRICKS_HOST and DATABRICKS_TOKEN, then `claude-mlflow flush`',
        },
      };
    }
    if (server.workspace) {
      if (server.healthy)
        return ok(`the Databricks workspace at ${server.workspace} takes the token of ${server.url} (${Math.round(server.ms ?? 0)} ms)`);
      const why = whyNoAnswer(server);
      return {
        status: 'fail',
        message: `The Databricks workspace at ${server.workspace} does not take the token of ${server.url} (${why}); traces are spooled meanwhile.`,
        fix: { command: `check the profile's host and token (or DATABRICKS_HOST and DATABRICKS_TOKEN), then ${context.cli} flush` },
      };
    }
    if (server.healthy) {
      return ok(`${server.url} answers /health${server.version ? `, MLflow ${server.version}` : ''} (${Math.round(server.ms ?? 0)} ms)`);
    }
    const why = whyNoAnswer(server);
    const message = `The MLflow server at ${server.url} does not answer /health (${why}); traces are spooled meanwhile.`;
    if (server.local) {
      const details = service.state !== 'running' ? [`the server process is not running (${service.state}; see service)`] : [];
      return { status: 'fail', message, details, fix: startServer(context.cli) };
    }
    return { status: 'fail', message, fix: { command: `curl ${server.url}/health` } };
  },
};

export const trackingUriCheck: Check = {
  id: 'tracking-uri',
  group: 'server',
  title: 'Tracking URI in settings matches our server',
  needs: ['context', 'settings'],
  run({ context, settings }) {
    const unset = skipNotSetUp({ context });
    if (unset) return unset;
    const expected = context.server?.url ?? context.trackingUri;
    if (!expected) return skip('No tracking URI recorded by init.');
    const set = effectiveEnv(settings, 'MLFLOW_TRACKING_URI');
    if (!set) return ok(`not set in settings; the hook uses ${expected} from config.json`);
    if (typeof set.value === 'string' && sameTrackingUri(set.value, expected)) return ok(`${set.value} (${set.scope} settings)`);
    return {
      status: 'fail',
      message: `MLFLOW_TRACKING_URI in ${scopeLabel(set)} is ${JSON.stringify(set.value)}, but our server is ${expected}: traces go elsewhere.`,
      fix: doctorFix(context.cli, 'set-tracking-uri'),
    };
  },
};

export const portCheck: Check = {
  id: 'port',
  group: 'server',
  title: 'Port',
  needs: ['context', 'port'],
  run({ context, port }) {
    if (!context.server || port.port === undefined) return skip('No local server.');
    const where = `${port.host}:${port.port}`;
    const foreign = port.holders.filter((h) => !h.ours);
    if (port.free && port.holders.length === 0) return ok(`${where} is free (the server is not running: see server)`);
    if (foreign.length === 0 && port.holders.length > 0) {
      return ok(`${where} is held by our server (PID ${port.holders.map((h) => h.pid).join(', ')})`);
    }
    const hint =
      context.platform === 'darwin' && (port.port === 5000 || port.port === 7000)
        ? `On macOS, port ${port.port} is often taken by AirPlay Receiver (System Settings → General → AirDrop & Handoff → AirPlay Receiver off).`
        : undefined;
    const who = foreign.length ? foreign.map(describeProcess) : ['a process doctor cannot see (another user, or a container)'];
    const stray = foreign.find((h) => isMlflowServerCommand(h.command));
    const pids = pidsOf(foreign);
    const message = stray
      ? `Port ${port.port} is held by an MLflow server that claude-mlflow did not start (PID ${stray.pid ?? '?'}).`
      : `Port ${port.port} is held by another program, not our MLflow server.`;
    return {
      status: 'fail',
      message,
      details: [
        ...who,
        ...(hint ? [hint] : []),
        `Choose: move our server to a free port (doctor --fix), or stop that program yourself${pids.length ? ` (kill ${pids.join(' ')})` : ''} and run \`${context.cli} server start\`.`,
      ],
      fix: doctorFix(context.cli, 'move-port'),
    };
  },
};
