/**
 * `doctor`'s flags: what commander hands over, as the options runDoctor takes.
 * An unknown `--check` id is refused by runDoctor itself (exit 2, with the
 * list of ids), since the check registry is its to know.
 */

/** commander's flags for `doctor`. */
export interface DoctorFlags {
  check?: string;
  deep?: boolean;
  verbose?: boolean;
  json?: boolean;
  fix?: boolean;
  yes?: boolean;
  project?: string;
}

export interface DoctorCommandOptions {
  check?: string;
  deep: boolean;
  verbose: boolean;
  json: boolean;
  fix: boolean;
  yes: boolean;
}

export function parseDoctorOptions(flags: DoctorFlags): DoctorCommandOptions {
  return {
    check: flags.check,
    deep: Boolean(flags.deep),
    verbose: Boolean(flags.verbose),
    json: Boolean(flags.json),
    fix: Boolean(flags.fix),
    yes: Boolean(flags.yes),
  };
}
