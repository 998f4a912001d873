/** `doctor`: exit 0 when no check failed (warnings allowed), 1 when one did, 2 on bad usage. */
import { parseDoctorOptions, type DoctorFlags } from '../doctor/options.js';
import { hostContext } from './host.js';

export async function runDoctorCommand(flags: DoctorFlags): Promise<number> {
  const options = parseDoctorOptions(flags);
  const { runDoctor } = await import('../doctor/run-doctor.js');
  const host = hostContext(flags);
  const outcome = await runDoctor({
    ...options,
    ...host.places(),
    color: host.color && !options.json,
    confirm: host.confirm(true),
    print: host.print,
    printError: (line) => process.stderr.write(`claude-mlflow: ${line}\n`),
  });
  return outcome.exitCode;
}
