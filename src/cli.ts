#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerBrowserPolicyCommand } from './cli/browser-policy-command.js';
import { registerCertCommand } from './cli/cert-command.js';
import { registerDoctorCommand } from './cli/doctor-command.js';
import { CliFailure } from './cli/fail.js';
import { registerHostsCommand } from './cli/hosts-command.js';
import { registerReadCommand } from './cli/read-command.js';
import { registerServeCommand } from './cli/serve-command.js';
import { APP_VERSION } from './version.js';

const program = new Command('nhiicc')
  .description('Open-source NHI card component (健保卡元件): card reader service for NHI web sites')
  .version(APP_VERSION)
  .exitOverride();

registerServeCommand(program);
registerReadCommand(program);
registerCertCommand(program);
registerHostsCommand(program);
registerBrowserPolicyCommand(program);
registerDoctorCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`nhiicc: ${err instanceof CliFailure ? err.message : (err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}
