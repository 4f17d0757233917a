#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CliFailure } from './cli/fail.js';
import { APP_VERSION } from './version.js';

type Register = (program: Command) => void;

/**
 * Each command's module is loaded only when that command runs: the
 * long-running `serve` then carries none of the certificate, trust-store and
 * diagnostics code (about 10 MB of resident memory).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./cli/serve-command.js')).registerServeCommand,
  read: async () => (await import('./cli/read-command.js')).registerReadCommand,
  cert: async () => (await import('./cli/cert-command.js')).registerCertCommand,
  hosts: async () => (await import('./cli/hosts-command.js')).registerHostsCommand,
  'browser-policy': async () => (await import('./cli/browser-policy-command.js')).registerBrowserPolicyCommand,
  doctor: async () => (await import('./cli/doctor-command.js')).registerDoctorCommand,
};

const program = new Command('nhiicc')
  .description('Open-source NHI card component (健保卡元件): card reader service for NHI web sites')
  .version(APP_VERSION)
  .exitOverride();

try {
  const wanted = process.argv[2];
  // The Windows service control manager waits a limited time for the
  // service to connect: its control thread starts before the app loads.
  if (wanted === 'serve' && process.argv.includes('--windows-service')) (await import('./windows-service/control-thread.js')).startControlThread();
  const names = wanted !== undefined && Object.hasOwn(COMMANDS, wanted) ? [wanted] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!())(program);
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`nhiicc: ${err instanceof CliFailure ? err.message : (err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}
