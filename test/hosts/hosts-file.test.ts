import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  defaultHostsFile,
  hostsStatus,
  installHostsEntry,
  resolvesToLoopback,
  uninstallHostsEntry,
  USUAL_HOSTS_LINES,
} from '../../src/hosts/hosts-file.js';
import { isLoopbackAddress } from '../../src/util/loopback.js';

const notResolving = async () => false;

async function hostsCopy(t: { teardown(fn: () => unknown): void }, content: string | Buffer): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-hosts-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hosts');
  await fs.writeFile(file, content);
  return file;
}

const LF = '127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n# comment with ü in latin1? no: utf8 ü\n10.0.0.5 nas.lan\n';

t.test('install adds one marked line, is idempotent, uninstall restores every byte', async (t) => {
  const file = await hostsCopy(t, LF);
  const first = await installHostsEntry({ file, resolves: notResolving });
  t.ok(first.changed);
  t.match(first.message, /added "127\.0\.0\.1 iccert\.nhi\.gov\.tw # added by nhiicc"/);
  t.equal(await fs.readFile(file, 'utf8'), `${LF}127.0.0.1 iccert.nhi.gov.tw # added by nhiicc\n`);

  const second = await installHostsEntry({ file, resolves: notResolving });
  t.notOk(second.changed, 'second install changes nothing');
  t.equal((await fs.readFile(file, 'utf8')).match(/nhiicc/g)?.length, 1, 'still one line');
  t.same(await hostsStatus({ file, resolves: notResolving }), {
    file,
    hasOurLine: true,
    fileMapsToLoopback: true,
    resolvesToLoopback: false,
  });

  t.ok((await uninstallHostsEntry({ file })).changed);
  t.equal(await fs.readFile(file, 'utf8'), LF, 'byte-identical to the original');
  t.notOk((await uninstallHostsEntry({ file })).changed, 'second uninstall changes nothing');
});

t.test('CRLF files get a CRLF line; a missing final newline is kept missing', async (t) => {
  const crlf = '127.0.0.1 localhost\r\n# Windows hosts\r\n';
  const file = await hostsCopy(t, crlf);
  await installHostsEntry({ file, resolves: notResolving });
  t.equal(await fs.readFile(file, 'utf8'), `${crlf}127.0.0.1 iccert.nhi.gov.tw # added by nhiicc\r\n`);
  await uninstallHostsEntry({ file });
  t.equal(await fs.readFile(file, 'utf8'), crlf);

  const noFinal = '127.0.0.1 localhost\n10.1.1.1 box';
  const file2 = await hostsCopy(t, noFinal);
  await installHostsEntry({ file: file2, resolves: notResolving });
  t.equal(await fs.readFile(file2, 'utf8'), `${noFinal}\n127.0.0.1 iccert.nhi.gov.tw # added by nhiicc`);
  await uninstallHostsEntry({ file: file2 });
  t.equal(await fs.readFile(file2, 'utf8'), noFinal);
});

t.test('uninstall removes only our line, wherever it is, and leaves foreign mappings', async (t) => {
  const before = Buffer.from('a\n127.0.0.1 iccert.nhi.gov.tw # added by nhiicc\n\xff raw byte\n127.0.0.1 iccert.nhi.gov.tw\n', 'latin1');
  const file = await hostsCopy(t, before);
  t.ok((await uninstallHostsEntry({ file })).changed);
  t.same(await fs.readFile(file), Buffer.from('a\n\xff raw byte\n127.0.0.1 iccert.nhi.gov.tw\n', 'latin1'));
});

t.test('nothing is added when the name already reaches loopback', async (t) => {
  const mapped = await hostsCopy(t, '127.0.0.1 localhost iccert.nhi.gov.tw\n');
  const r1 = await installHostsEntry({ file: mapped, resolves: notResolving });
  t.notOk(r1.changed);
  t.match(r1.message, /already maps/);
  const file = await hostsCopy(t, LF);
  const r2 = await installHostsEntry({ file, resolves: async () => true });
  t.notOk(r2.changed);
  t.match(r2.message, /already resolves to loopback/);
  t.equal(await fs.readFile(file, 'utf8'), LF);
});

t.test('no hosts file: install creates one with the usual lines, uninstall says there is nothing to remove', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-hosts-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hosts');

  const none = await uninstallHostsEntry({ file });
  t.notOk(none.changed);
  t.equal(none.message, `${file} does not exist; nothing to remove`);
  t.notOk(await fs.stat(file).catch(() => undefined), 'uninstall does not create the file');

  const umask = process.umask(0o077);
  t.teardown(() => void process.umask(umask));
  const made = await installHostsEntry({ file, resolves: notResolving });
  t.ok(made.changed);
  t.match(made.message, /did not exist: created it with the usual localhost lines and "127\.0\.0\.1 iccert\.nhi\.gov\.tw # added by nhiicc"/);
  t.equal(
    await fs.readFile(file, 'utf8'),
    '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n127.0.0.1 iccert.nhi.gov.tw # added by nhiicc\n',
  );
  t.equal((await fs.stat(file)).mode & 0o777, 0o644, 'readable by everyone even under umask 077');
  t.match(await hostsStatus({ file, resolves: notResolving }), { hasOurLine: true, fileMapsToLoopback: true });

  t.ok((await uninstallHostsEntry({ file })).changed);
  t.equal(await fs.readFile(file, 'utf8'), USUAL_HOSTS_LINES.map((l) => `${l}\n`).join(''), 'the usual lines stay: localhost must keep resolving');
  t.equal((await uninstallHostsEntry({ file })).message, `${file} has no nhiicc line; nothing to remove`);

  const resolving = path.join(dir, 'resolving');
  t.notOk((await installHostsEntry({ file: resolving, resolves: async () => true })).changed, 'nothing is created when DNS already answers loopback');
  t.notOk(await fs.stat(resolving).catch(() => undefined));
});

t.test('a hosts file in a missing folder is one clear error', async (t) => {
  await t.rejects(installHostsEntry({ file: '/nonexistent/hosts', resolves: notResolving }), /^cannot write \/nonexistent\/hosts: its folder \/nonexistent does not exist$/);
});

t.test('loopback detection and defaults', async (t) => {
  t.ok(isLoopbackAddress('127.0.0.1'));
  t.ok(isLoopbackAddress('127.5.0.1'));
  t.ok(isLoopbackAddress('::1'));
  t.notOk(isLoopbackAddress('10.0.0.1'));
  t.notOk(isLoopbackAddress('::2'));
  t.ok(await resolvesToLoopback('localhost'), 'localhost resolves to loopback');
  t.notOk(await resolvesToLoopback('name.invalid'), 'unresolvable is not loopback');
  t.equal(defaultHostsFile('linux'), '/etc/hosts');
  t.equal(defaultHostsFile('win32', { SystemRoot: 'C:\\Windows' }), 'C:\\Windows\\System32\\drivers\\etc\\hosts');
});
