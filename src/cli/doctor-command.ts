import { type Command, Option } from 'commander';
import { NHI_HOST, NHI_PORT } from '../config/names.js';
import { defaultConfigDir } from '../config/paths.js';
import { defaultDoctorDeps, type DoctorOverrides, formatReport, pcscOnly, runDoctor } from '../doctor/report.js';
import { PCSC_ONLY_OPTION } from '../doctor/service-user.js';
import { fail, failOnError } from './fail.js';

export type DoctorCommandDeps = DoctorOverrides & {
  out?: (line: string) => void;
  /** Called with 1 when a check failed; the real CLI sets the process exit code. */
  setExitCode?: (code: number) => void;
};

interface DoctorOpts {
  json?: boolean;
  configDir?: string;
  port: string;
  hostsFile?: string;
  pcscOnly?: boolean;
}

export function registerDoctorCommand(program: Command, deps: DoctorCommandDeps = {}): void {
  const { out = (line: string) => console.log(line), setExitCode = (code: number) => {
      process.exitCode = code;
    }, ...doctorDeps } = deps;
  program
    .command('doctor')
    .description('check everything NHI web pages need from this computer, with the fix for each problem')
    .option('--json', 'print the checks as one JSON object')
    .option('--config-dir <dir>', 'certificate folder (env NHIICC_CONFIG_DIR)')
    .option('--port <n>', 'port the service should answer on', String(NHI_PORT))
    .option('--hosts-file <path>', `judge ${NHI_HOST} by this hosts file instead of the system resolver`)
    // Root's doctor runs this as the service's user: its PC/SC checks as JSON.
    .addOption(new Option(PCSC_ONLY_OPTION).hideHelp())
    .action(failOnError(async (opts: DoctorOpts) => {
      if (opts.pcscOnly) return out(JSON.stringify(await pcscOnly(defaultDoctorDeps(doctorDeps))));
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port < 1 || port > 65535) fail(`--port must be a number from 1 to 65535, not "${opts.port}"`);
      const report = await runDoctor(
        {
          configDir: opts.configDir ?? defaultConfigDir(),
          ...(opts.configDir !== undefined ? { userConfigDir: opts.configDir } : {}),
          port,
          ...(opts.hostsFile !== undefined ? { hostsFile: opts.hostsFile } : {}),
        },
        defaultDoctorDeps(doctorDeps),
      );
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of formatReport(report)) out(line);
      if (!report.ok) setExitCode(1);
    }));
}
