import type { Command } from 'commander';
import { NHI_HOST } from '../config/names.js';
import { hostsStatus, installHostsEntry, uninstallHostsEntry, type HostsOptions } from '../hosts/hosts-file.js';
import { failOnError } from './fail.js';

export interface HostsCommandDeps {
  resolves?: HostsOptions['resolves'];
  out?: (line: string) => void;
}

interface FileOption {
  hostsFile?: string;
}

export function registerHostsCommand(program: Command, deps: HostsCommandDeps = {}): void {
  const out = deps.out ?? ((line: string) => console.log(line));
  const options = (opts: FileOption): HostsOptions => ({
    ...(opts.hostsFile !== undefined ? { file: opts.hostsFile } : {}),
    ...(deps.resolves ? { resolves: deps.resolves } : {}),
  });
  const hosts = program.command('hosts').description(`map ${NHI_HOST} to 127.0.0.1 when DNS does not`);
  const withFile = (cmd: Command) => cmd.option('--hosts-file <path>', 'hosts file to edit (default: the system one)');

  withFile(hosts.command('install').description(`add "127.0.0.1 ${NHI_HOST}" unless it already resolves to loopback`))
    .action(failOnError(async (opts: FileOption) => out((await installHostsEntry(options(opts))).message)));

  withFile(hosts.command('uninstall').description('remove only the line `hosts install` added'))
    .action(failOnError(async (opts: FileOption) => out((await uninstallHostsEntry(options(opts))).message)));

  withFile(hosts.command('status').description(`does ${NHI_HOST} reach this computer?`))
    .option('--json', 'machine-readable output')
    .action(failOnError(async (opts: FileOption & { json?: boolean }) => {
      const s = await hostsStatus(options(opts));
      if (opts.json) return out(JSON.stringify(s, null, 2));
      out(`${NHI_HOST} ${s.resolvesToLoopback ? 'resolves to loopback' : 'does NOT resolve to loopback'}`);
      out(`${s.file}: ${s.hasOurLine ? 'has the nhiicc line' : s.fileMapsToLoopback ? 'maps it to loopback (not our line)' : 'no entry for it'}`);
    }));
}
