/**
 * launchd: the rendered plist is parsed by real parsers (libxml2, from npm,
 * against Apple's PropertyList-1.0.dtd; and Python's plistlib, which must
 * read back exactly the spec's values), and the launchctl call sequences are
 * checked against a recording fake `launchctl` on PATH.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createLaunchdManager,
  isDisabled,
  parseLaunchctlPrint,
  renderPlist,
  xmlEscape,
  type LaunchdOptions,
} from '../../../src/adapters/service/launchd.js';
import type { ServiceSpec } from '../../../src/adapters/service/types.js';
import { CliError } from '../../../src/errors.js';
import { callsFile, fakeContext, makeFakeBin, readCalls } from '../../helpers/fake-bin.js';
import { validatePlist } from '../../helpers/plist.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const LABEL = 'dev.claude-mlflow.server';
const UID = 501;
const TARGET = `gui/${UID}/${LABEL}`;

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('claude-mlflow-launchd-');
});
afterEach(async () => {
  await tmp.cleanup();
});

function awkwardSpec(root: string): ServiceSpec {
  const data = path.join(root, `Application Support/R&D <"claude's"> mlflow`);
  return {
    label: LABEL,
    mlflowBin: path.join(data, 'venv', 'bin', 'mlflow'),
    args: ['server', '--backend-store-uri', `sqlite:///${data}/mlflow.db`, '--host', '127.0.0.1', '--port', '5000', 'a&b<c>d"e\'f'],
    workingDirectory: data,
    stdoutPath: path.join(data, 'logs', 'out & err.log'),
    stderrPath: path.join(data, 'logs', 'out & err.log'),
    environment: { PATH: '/usr/bin:/bin', MLFLOW_NOTE: '<&> "quoted" \'single\' ]]> $HOME %h' },
  };
}

function simpleSpec(root: string): ServiceSpec {
  const data = path.join(root, 'data');
  return {
    label: LABEL,
    mlflowBin: path.join(data, 'venv', 'bin', 'mlflow'),
    args: ['server', '--port', '5000'],
    workingDirectory: data,
    stdoutPath: path.join(data, 'logs', 'server.log'),
    stderrPath: path.join(data, 'logs', 'server.log'),
    environment: {},
  };
}

/** The plist as Python's plistlib reads it (JSON). */
function plistlibLoad(file: string): unknown {
  const r = spawnSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`plistlib could not read ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('plist rendering', () => {
  it('xmlEscape escapes & < > and both quotes', () => {
    expect(xmlEscape(`a & b <c> "d" 'e'`)).toBe('a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;');
    expect(xmlEscape('&amp;')).toBe('&amp;amp;');
    expect(xmlEscape('/Users/me/Library/Application Support/x')).toBe('/Users/me/Library/Application Support/x');
  });

  it('declares Apple’s plist DOCTYPE and escapes every value', () => {
    const text = renderPlist(awkwardSpec('/Users/me'));
    expect(text.split('\n').slice(0, 2)).toEqual([
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    ]);
    expect(text).toContain('<string>/Users/me/Application Support/R&amp;D &lt;&quot;claude&apos;s&quot;&gt; mlflow</string>');
    expect(text).toContain('<string>a&amp;b&lt;c&gt;d&quot;e&apos;f</string>');
    // Nothing raw: outside tags, no < or > or a bare & is left.
    const body = text.replace(/<[^<>]*>/g, '');
    expect(body).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot|apos);)/);
  });

  it('rejects control characters', () => {
    expect(() => renderPlist({ ...simpleSpec('/Users/me'), args: ['a\u0001'] })).toThrow(CliError);
  });

  it('parses and validates (real XML parser + DTD), and reads back exactly the spec', () => {
    const spec = awkwardSpec(tmp.path);
    const file = path.join(tmp.path, `${LABEL}.plist`);
    writeFileSync(file, renderPlist(spec));
    const v = validatePlist(file);
    expect(v.valid, v.errors).toBe(true);
    expect(plistlibLoad(file)).toEqual({
      Label: LABEL,
      ProgramArguments: [spec.mlflowBin, ...spec.args],
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      WorkingDirectory: spec.workingDirectory,
      StandardOutPath: spec.stdoutPath,
      StandardErrorPath: spec.stderrPath,
      EnvironmentVariables: {
        PATH: `${path.dirname(spec.mlflowBin)}:/usr/bin:/bin`,
        MLFLOW_NOTE: spec.environment.MLFLOW_NOTE,
      },
    });
  });

  it('a default PATH: the venv bin dir first, then the system dirs (never the shell’s PATH)', () => {
    const spec = simpleSpec(tmp.path);
    const file = path.join(tmp.path, 'p.plist');
    writeFileSync(file, renderPlist(spec));
    expect((plistlibLoad(file) as { EnvironmentVariables: Record<string, string> }).EnvironmentVariables).toEqual({
      PATH: `${path.dirname(spec.mlflowBin)}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
    });
  });

  it('the validator rejects an unescaped & and a dict without its key (so the check above can fail)', () => {
    const text = renderPlist(awkwardSpec(tmp.path));
    const raw = path.join(tmp.path, 'raw.plist');
    writeFileSync(raw, text.replace('R&amp;D', 'R&D'));
    expect(validatePlist(raw)).toMatchObject({ valid: false, errors: expect.stringMatching(/EntityRef/) });
    const invalid = path.join(tmp.path, 'invalid.plist');
    writeFileSync(invalid, text.replace('<key>RunAtLoad</key>', ''));
    expect(validatePlist(invalid)).toMatchObject({
      valid: false,
      errors: expect.stringMatching(/Element dict content does not follow the DTD/),
    });
  });
});

/**
 * A recording launchctl with state in $LAUNCHD_STATE: `loaded` (a file),
 * and `lingering`: after a bootout, `print` still reports the service
 * that many times ($LINGER, default 2) before "Could not find service".
 */
function fakeLaunchctl(bin: string): void {
  makeFakeBin(
    bin,
    'launchctl',
    `
S="$LAUNCHD_STATE"
loaded_output() { printf '%s = {\\n\\tactive count = 1\\n\\tpath = %s\\n\\ttype = LaunchAgent\\n\\tstate = %s\\n\\n\\tprogram = /x/mlflow\\n' "$1" "$HOME/Library/LaunchAgents/${LABEL}.plist" "\${RUN_STATE:-running}"; [ "\${RUN_STATE:-running}" = running ] && printf '\\tpid = 4321\\n'; printf '\\tendpoints = {\\n\\t\\tstate = active\\n\\t}\\n}\\n'; }
case "$1" in
  bootout)
    if [ -e "$S/loaded" ]; then rm -f "$S/loaded"; echo "\${LINGER:-2}" > "$S/lingering"; exit 0; fi
    echo "Boot-out failed: 3: No such process" >&2; exit 3 ;;
  print)
    n=$(cat "$S/lingering" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$S/lingering"; loaded_output "$2"; exit 0; fi
    if [ -e "$S/loaded" ]; then loaded_output "$2"; exit 0; fi
    echo "Could not find service \\"\${2##*/}\\" in domain for port" >&2; exit 113 ;;
  print-disabled)
    printf 'disabled services = {\\n\\t"com.apple.Siri.agent" => disabled\\n%s}\\n' "\${DISABLED_LINE:-}"; exit 0 ;;
  enable) exit 0 ;;
  bootstrap)
    if [ -n "\${BOOTSTRAP_FAILS:-}" ]; then echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; fi
    [ -e "$3" ] || { echo "no such plist $3" >&2; exit 2; }
    touch "$S/loaded"; exit 0 ;;
  kickstart)
    if [ -e "$S/loaded" ]; then exit 0; fi
    echo "Could not find service" >&2; exit 113 ;;
esac
echo "unexpected: $*" >&2
exit 64`,
  );
}

describe('launchd manager against a recording launchctl', () => {
  function setup(options: { loaded?: boolean; env?: NodeJS.ProcessEnv; manager?: LaunchdOptions } = {}) {
    const root = mkdtempSync(path.join(tmp.path, 'case-'));
    const bin = path.join(root, 'bin');
    const home = path.join(root, 'home');
    const state = path.join(root, 'state');
    mkdirSync(home, { recursive: true });
    mkdirSync(state, { recursive: true });
    if (options.loaded) writeFileSync(path.join(state, 'loaded'), '');
    fakeLaunchctl(bin);
    const ctx = fakeContext({ binDir: bin, home, uid: UID, env: { LAUNCHD_STATE: state, ...options.env } });
    const manager = createLaunchdManager(ctx, { pollIntervalMs: 20, ...options.manager });
    const plist = path.join(home, 'Library', 'LaunchAgents', `${LABEL}.plist`);
    return { manager, plist, calls: () => readCalls(callsFile(bin)).map((c) => c.slice(1).join(' ')) };
  }

  it('install over a loaded service: bootout, poll print until launchd forgets it, enable, bootstrap', async () => {
    const { manager, plist, calls } = setup({ loaded: true });
    const spec = simpleSpec(tmp.path);
    expect(manager.unitPath(spec)).toBe(plist);
    await manager.install(spec);
    expect(calls()).toEqual([
      `bootout ${TARGET}`,
      `print ${TARGET}`, // still loaded (bootout is asynchronous)
      `print ${TARGET}`, // still loaded
      `print ${TARGET}`, // "Could not find service"
      `enable ${TARGET}`,
      `bootstrap gui/${UID} ${plist}`,
    ]);
    expect(readFileSync(plist, 'utf8')).toBe(renderPlist(spec));
    expect(statSync(plist).mode & 0o022).toBe(0);
    expect(statSync(path.dirname(spec.stdoutPath)).mode & 0o777).toBe(0o700);
  });

  it('fresh install: a failed bootout ("not loaded") is fine', async () => {
    const { manager, plist, calls } = setup();
    await manager.install(simpleSpec(tmp.path));
    expect(calls()).toEqual([`bootout ${TARGET}`, `print ${TARGET}`, `enable ${TARGET}`, `bootstrap gui/${UID} ${plist}`]);
  });

  it('install gives up when launchd never forgets the old service', async () => {
    const { manager, calls } = setup({ loaded: true, env: { LINGER: '1000' }, manager: { unloadTimeoutMs: 300 } });
    await expect(manager.install(simpleSpec(tmp.path))).rejects.toThrow(/still has gui\/501\/dev\.claude-mlflow\.server loaded/);
    expect(calls().some((c) => c.startsWith('bootstrap'))).toBe(false);
  });

  it('a failing bootstrap fails install with launchctl’s message', async () => {
    const { manager } = setup({ env: { BOOTSTRAP_FAILS: '1' } });
    await expect(manager.install(simpleSpec(tmp.path))).rejects.toThrow(/bootstrap gui\/501 .*Input\/output error/);
  });

  it('restart = kickstart -k; a restart of an unloaded service bootstraps it', async () => {
    const loaded = setup({ loaded: true });
    await loaded.manager.restart(simpleSpec(tmp.path));
    expect(loaded.calls()).toEqual([`kickstart -k ${TARGET}`]);

    const unloaded = setup();
    const spec = simpleSpec(tmp.path);
    await unloaded.manager.install(spec);
    await unloaded.manager.stop(spec);
    const before = unloaded.calls().length;
    await unloaded.manager.restart(spec);
    expect(unloaded.calls().slice(before)).toEqual([
      `kickstart -k ${TARGET}`,
      `print ${TARGET}`,
      `enable ${TARGET}`,
      `bootstrap gui/${UID} ${unloaded.plist}`,
    ]);
  });

  it('start: kickstart when loaded, bootstrap when not', async () => {
    const { manager, plist, calls } = setup({ loaded: true });
    const spec = simpleSpec(tmp.path);
    await manager.start(spec);
    expect(calls()).toEqual([`print ${TARGET}`, `kickstart ${TARGET}`]);
    await manager.install(spec);
    await manager.stop(spec);
    const before = calls().length;
    await manager.start(spec);
    expect(calls().slice(before)).toEqual([`print ${TARGET}`, `enable ${TARGET}`, `bootstrap gui/${UID} ${plist}`]);
  });

  it('stop = bootout, polled until gone', async () => {
    const { manager, calls } = setup({ loaded: true, env: { LINGER: '1' } });
    await manager.stop(simpleSpec(tmp.path));
    expect(calls()).toEqual([`bootout ${TARGET}`, `print ${TARGET}`, `print ${TARGET}`]);
  });

  it('uninstall: bootout (+ poll), then the plist is removed', async () => {
    const { manager, plist, calls } = setup();
    const spec = simpleSpec(tmp.path);
    await manager.install(spec);
    const before = calls().length;
    await manager.uninstall(spec);
    expect(calls().slice(before)).toEqual([`bootout ${TARGET}`, `print ${TARGET}`, `print ${TARGET}`, `print ${TARGET}`]);
    expect(existsSync(plist)).toBe(false);
  });

  it('status parses state = running and pid = 4321', async () => {
    const { manager, calls } = setup();
    const spec = simpleSpec(tmp.path);
    await manager.install(spec);
    const before = calls().length;
    expect(await manager.status(spec)).toEqual({ installed: true, enabled: true, running: true, pid: 4321, detail: 'state = running' });
    expect(calls().slice(before)).toEqual([`print ${TARGET}`, `print-disabled gui/${UID}`]);
  });

  it('status: loaded but not running; disabled; not loaded at all', async () => {
    const notRunning = setup({ loaded: true, env: { RUN_STATE: 'not running', DISABLED_LINE: `\t"${LABEL}" => disabled\n` } });
    expect(await notRunning.manager.status(simpleSpec(tmp.path))).toEqual({
      installed: false,
      enabled: false,
      running: false,
      detail: 'state = not running',
    });
    const gone = setup();
    const status = await gone.manager.status(simpleSpec(tmp.path));
    expect(status).toMatchObject({ installed: false, running: false });
    expect(status.detail).toMatch(/Could not find service/);
  });

  it('parseLaunchctlPrint and isDisabled', () => {
    expect(parseLaunchctlPrint('gui/501/x = {\n\tstate = running\n\tpid = 77\n\tendpoints = {\n\t\tstate = active\n\t}\n}')).toEqual({
      state: 'running',
      pid: 77,
    });
    expect(parseLaunchctlPrint('x = {\n\tstate = not running\n}')).toEqual({ state: 'not running' });
    expect(isDisabled(`disabled services = {\n\t"${LABEL}" => disabled\n}`, LABEL)).toBe(true);
    expect(isDisabled(`disabled services = {\n\t"${LABEL}" => true\n}`, LABEL)).toBe(true);
    expect(isDisabled(`disabled services = {\n\t"${LABEL}" => enabled\n}`, LABEL)).toBe(false);
    expect(isDisabled(`disabled services = {\n\t"devXclaude-mlflow.server" => disabled\n}`, LABEL)).toBe(false);
  });
});
