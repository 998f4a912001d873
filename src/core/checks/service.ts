/** The service group: the server process runs, and (systemd) keeps running after logout. */
import type { Check } from './check.js';
import { ok, skip, startServer } from './outcomes.js';

export const serviceCheck: Check = {
  id: 'service',
  group: 'service',
  title: 'Server process running',
  needs: ['context', 'service'],
  run({ context, service }) {
    if (!context.server) return skip('No local server: nothing to run.');
    const tail = service.logTail.length ? [`last lines of ${service.logFile}:`, ...service.logTail.map((l) => `  ${l}`)] : [];
    const fix = startServer(context.cli);
    if (service.manager && service.manager !== 'background') {
      const name = service.manager;
      const detail = service.detail ? [service.detail] : [];
      if (service.state === 'unknown')
        return { status: 'warn', message: `Could not ask ${name} about the server.`, details: [...detail, ...tail] };
      if (service.installed === false) {
        return {
          status: 'fail',
          message: `The ${name} service for the server is not installed.`,
          details: [...detail, ...tail],
          fix: { command: `${context.cli} init` },
        };
      }
      if (service.state !== 'running') {
        return { status: 'fail', message: `The ${name} service is installed but not running.`, details: [...detail, ...tail], fix };
      }
      if (service.enabled === false) {
        return {
          status: 'warn',
          message: `The ${name} service runs, but does not start by itself at login.`,
          details: detail,
          fix: { command: `${context.cli} init` },
        };
      }
      return ok(`running under ${name}${service.pid ? ` (PID ${service.pid})` : ''}, installed and enabled`, detail);
    }
    switch (service.state) {
      case 'running':
        return ok(`running (PID ${service.pid}${service.startedAt ? `, since ${service.startedAt}` : ''})`);
      case 'not-ours':
        return {
          status: 'fail',
          message: `${context.files.pidFile} points at PID ${service.pid}, which is not our MLflow server (the PID was reused).`,
          details: tail,
          fix,
        };
      case 'dead':
        return {
          status: 'fail',
          message: `The server (PID ${service.pid ?? '?'}) is gone${service.strays?.length ? `, but its workers ${service.strays.join(', ')} linger` : ''}.`,
          details: tail,
          fix,
        };
      case 'no-pidfile':
        return { status: 'fail', message: 'The server is not running.', details: tail, fix };
      default:
        return skip('Server state unknown.');
    }
  },
};

export const lingerCheck: Check = {
  id: 'linger',
  group: 'service',
  title: 'Linger (systemd user service)',
  needs: ['linger'],
  run({ linger }) {
    if (!linger.applicable) return skip('Only for a systemd user service on Linux.');
    if (linger.enabled) return ok(`enabled for ${linger.user}`);
    return {
      status: 'warn',
      message: `Linger is off for ${linger.user}: systemd stops the server when you log out.`,
      fix: { command: `loginctl enable-linger ${linger.user ?? '$USER'}` },
    };
  },
};
