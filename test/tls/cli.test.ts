// The cert, hosts and browser-policy commands in-process, with recording
// runners so nothing on this machine changes.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import t from 'tap';
import { registerBrowserPolicyCommand } from '../../src/cli/browser-policy-command.js';
import { registerCertCommand } from '../../src/cli/cert-command.js';
import { CliFailure } from '../../src/cli/fail.js';
import { registerHostsCommand } from '../../src/cli/hosts-command.js';
import { recordingRunner } from '../trust/recording-runner.js';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-cli-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const lines: string[] = [];
  const rec = recordingRunner((line) => (line.startsWith('certutil -store') ? { code: 1 } : undefined));
  const program = new Command('nhiicc').exitOverride();
  const out = (line: string) => void lines.push(line);
  registerCertCommand(program, { out, trust: { context: { platform: 'win32', runner: rec.runner, homeDirs: [root], env: {} } } });
  registerHostsCommand(program, { out, resolves: async () => false });
  registerBrowserPolicyCommand(program, { out, confirm: undefined, policy: { platform: 'win32', runner: rec.runner } });
  const run = async (...args: string[]) => {
    lines.splice(0);
    rec.clear();
    await program.parseAsync(args, { from: 'user' });
    return lines.join('\n');
  };
  return { root, dir: path.join(root, 'config'), run, rec };
}

t.test('cert init, status, install, renew, uninstall', async (t) => {
  const { dir, run, rec } = await setup(t);
  t.match(await run('cert', 'init', '--config-dir', dir), /created a new CA and server certificate in .* \(valid until \d{4}-\d\d-\d\d\)/);
  t.match(await run('cert', 'init', '--config-dir', dir), /certificate already present/);

  const status = JSON.parse(await run('cert', 'status', '--json', '--config-dir', dir));
  t.equal(status.server.subject, 'CN=iccert.nhi.gov.tw');
  t.same(status.trust.find((s: { store: string }) => s.store === 'windows-root'), {
    store: 'windows-root',
    label: 'Windows Trusted Root store',
    available: true,
    trusted: false,
  });
  t.match(await run('cert', 'status', '--config-dir', dir), /Windows Trusted Root store: NOT trusted/);

  t.match(await run('cert', 'install', '--config-dir', dir), /Windows Trusted Root store: added the CA/);
  t.ok(rec.lines.some((l) => l.startsWith('certutil -addstore -f Root ')));
  t.match(await run('cert', 'renew', '--config-dir', dir), /created a new CA[\s\S]*restart the nhiicc service/);
  t.ok(rec.lines.some((l) => l.startsWith('certutil -addstore')), 'renew trusts the new CA');
});

t.test('errors are one CliFailure line', async (t) => {
  const { root, dir, run } = await setup(t);
  await t.rejects(run('cert', 'status', '--config-dir', dir), new CliFailure(`no certificate in ${dir}; run \`nhiicc cert init\``));
  const err = await run('hosts', 'install', '--hosts-file', path.join(root, 'none', 'hosts')).catch((e: unknown) => e);
  t.ok(err instanceof CliFailure, 'library errors become CliFailure');
  t.match((err as Error).message, /^cannot write .*none\/hosts: its folder .*none does not exist$/);
  await t.rejects(run('browser-policy', 'install'), new CliFailure('not confirmed: re-run with --yes to write the policies'));
});

t.test('hosts and browser-policy say what changed', async (t) => {
  const { root, run, rec } = await setup(t);
  const hosts = path.join(root, 'hosts');
  await fs.writeFile(hosts, '127.0.0.1 localhost\n');
  t.match(await run('hosts', 'install', '--hosts-file', hosts), /added "127.0.0.1 iccert.nhi.gov.tw # added by nhiicc" to/);
  t.match(await run('hosts', 'status', '--hosts-file', hosts), /has the nhiicc line/);
  t.match(await run('hosts', 'uninstall', '--hosts-file', hosts), /removed the nhiicc line/);
  t.equal(await fs.readFile(hosts, 'utf8'), '127.0.0.1 localhost\n');

  const output = await run('browser-policy', 'install', '--yes');
  t.match(output, /Managed by your organization/);
  t.match(output, /Google Chrome: added https:\/\/\[\*\.\]nhi\.gov\.tw, https:\/\/\[\*\.\]gov\.tw to HKLM/);
  t.ok(rec.lines.some((l) => l.startsWith('reg add HKLM\\SOFTWARE\\Policies\\Google\\Chrome\\LoopbackNetworkAllowedForUrls /v 1')));
});
