#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CliFailure } from './cli/fail.js';
import { registerReadCommand } from './cli/read-command.js';
import { registerServeCommand } from './cli/serve-command.js';
import { APP_VERSION } from './version.js';

const program = new Command('nhiicc')
  .description('Open-source NHI card component (健保卡元件): card reader service for NHI web sites')
  .version(APP_VERSION)
  .exitOverride();

registerServeCommand(program);
registerReadCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`nhiicc: ${err instanceof CliFailure ? err.message : (err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}
