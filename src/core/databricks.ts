/**
 * Databricks as the tracking server (`databricks`, `databricks://<profile>`),
 * as MLflow's own client resolves it. Pure: the caller reads the files.
 *
 * Auth is a personal access token, from DATABRICKS_HOST and DATABRICKS_TOKEN
 * or from a profile of ~/.databrickscfg (DATABRICKS_CONFIG_FILE moves it,
 * DATABRICKS_CONFIG_PROFILE picks the profile for plain `databricks`).
 */

export interface DatabricksUri {
  /** The profile named in the URI; undefined for plain `databricks`. */
  profile?: string;
}

export interface DatabricksAuth {
  /** https://… without a trailing slash. */
  host: string;
  token: string;
  /** Where they came from, for messages: "DATABRICKS_HOST and DATABRICKS_TOKEN" or "profile [dev] of ~/.databrickscfg". */
  source: string;
}

export function isDatabricksUri(uri: string): boolean {
  return /^databricks(:\/\/|$)/i.test(uri.trim());
}

/** `databricks` or `databricks://profile`; an error text for anything else of that scheme. */
export function parseDatabricksUri(uri: string): DatabricksUri | { error: string } {
  const text = uri.trim();
  if (/^databricks$/i.test(text)) return {};
  const match = /^databricks:\/\/(.*)$/i.exec(text);
  if (!match) return { error: 'must be databricks or databricks://<profile>' };
  const profile = match[1]!.replace(/\/+$/, '');
  if (profile === '') return {};
  if (profile.includes(':')) {
    return {
      error:
        'a secret-scope URI (databricks://scope:prefix) only works inside Databricks; use databricks://<profile> with a profile of ~/.databrickscfg',
    };
  }
  if (!/^[\w.@-]+$/.test(profile)) return { error: `"${profile}" is not a profile name` };
  return { profile };
}

/** The sections of an INI file such as ~/.databrickscfg: profile → key → value. */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections[section[1]!.trim()] ??= {};
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (pair && current) current[pair[1]!.trim().toLowerCase()] = pair[2]!.trim();
  }
  return sections;
}

export function normalizeHost(host: string): string {
  const trimmed = host.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
}

export interface ResolveInput {
  uri: DatabricksUri;
  env: NodeJS.ProcessEnv;
  /** The config file's text; undefined when it does not exist. */
  cfgText?: string;
  /** The config file's path as shown to the user. */
  cfgPath: string;
}

/**
 * Host and token, or why there are none. Plain `databricks` takes
 * DATABRICKS_HOST and DATABRICKS_TOKEN when both are set, else the profile
 * DATABRICKS_CONFIG_PROFILE names (DEFAULT); `databricks://p` takes profile p.
 */
export function resolveDatabricksAuth(input: ResolveInput): DatabricksAuth | { error: string } {
  const { env, uri, cfgPath } = input;
  if (!uri.profile && env.DATABRICKS_HOST && env.DATABRICKS_TOKEN) {
    return { host: normalizeHost(env.DATABRICKS_HOST), token: env.DATABRICKS_TOKEN, source: 'DATABRICKS_HOST and DATABRICKS_TOKEN' };
  }
  const name = uri.profile ?? (env.DATABRICKS_CONFIG_PROFILE || 'DEFAULT');
  const hint = uri.profile ? '' : ', or set DATABRICKS_HOST and DATABRICKS_TOKEN';
  if (input.cfgText === undefined) return { error: `${cfgPath} does not exist, so it has no profile [${name}]${hint}` };
  const profile = parseIni(input.cfgText)[name];
  if (!profile) return { error: `${cfgPath} has no profile [${name}]${hint}` };
  if (!profile.host) return { error: `profile [${name}] of ${cfgPath} has no host` };
  if (!profile.token) {
    const kind = profile.auth_type ?? (profile.client_id ? 'OAuth' : 'no token');
    return {
      error: `profile [${name}] of ${cfgPath} has no personal access token (${kind}); claude-mlflow signs in with a token: add token = … to the profile${hint}`,
    };
  }
  return { host: normalizeHost(profile.host), token: profile.token, source: `profile [${name}] of ${cfgPath}` };
}

/** A Databricks experiment is a workspace path: a bare name goes into the user's own folder. */
export function workspaceExperimentPath(name: string, userName: string): string {
  return name.startsWith('/') ? name : `/Users/${userName}/${name}`;
}
