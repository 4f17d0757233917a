// The macOS and Windows trust paths, checked by their exact command lines.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { describeCertificate, ensureServerCertificate, renewCertificates } from '../../src/tls/certificates.js';
import { installTrust, trustStatus, uninstallTrust } from '../../src/trust/trust.js';
import { recordingRunner } from './recording-runner.js';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-trust-'));
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-emptyhome-'));
  t.teardown(async () => {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(home, { recursive: true, force: true });
  });
  await ensureServerCertificate(dir);
  const { ca } = await describeCertificate(dir);
  return { dir, home, ca, caFile: path.join(dir, 'ca.crt') };
}

const KEYCHAIN = '/Library/Keychains/System.keychain';

t.test('macOS: System keychain install, status, uninstall', async (t) => {
  const { dir, home, ca, caFile } = await setup(t);
  const sha1 = ca.sha1.toUpperCase();
  let inKeychain = false;
  const rec = recordingRunner((line) => {
    if (line.startsWith('security find-certificate')) {
      return { stdout: inKeychain ? `SHA-256 hash: X\nSHA-1 hash: ${sha1}\nkeychain: "${KEYCHAIN}"\n` : '' };
    }
    if (line.startsWith('security add-trusted-cert')) inKeychain = true;
    if (line.startsWith('security delete-certificate')) inKeychain = false;
    return undefined;
  });
  const context = { platform: 'darwin' as const, isRoot: true, runner: rec.runner, homeDirs: [home] };

  const installed = await installTrust(dir, { context });
  t.same(rec.lines, [
    `security find-certificate -a -Z ${KEYCHAIN}`,
    `security add-trusted-cert -d -r trustRoot -k ${KEYCHAIN} ${caFile}`,
  ]);
  t.same(installed.map((c) => [c.store, c.status]), [['macos-keychain', 'changed']]);
  const state = JSON.parse(await fs.readFile(path.join(dir, 'trust-state.json'), 'utf8'));
  t.same(state.cas[0].records, [{ store: 'macos-keychain', location: KEYCHAIN, name: sha1 }], 'install recorded');

  rec.clear();
  const status = await trustStatus(dir, { context });
  t.same(rec.lines, [`security find-certificate -a -Z ${KEYCHAIN}`, `security verify-cert -c ${caFile}`]);
  t.same(status.filter((s) => s.available), [{ store: 'macos-keychain', label: 'macOS System keychain', available: true, trusted: true }]);

  rec.clear();
  const removed = await uninstallTrust(dir, { context });
  t.same(rec.lines, [
    `security find-certificate -a -Z ${KEYCHAIN}`,
    `security remove-trusted-cert -d ${caFile}`,
    `security delete-certificate -Z ${sha1} ${KEYCHAIN}`,
  ]);
  t.same(removed.map((c) => c.status), ['changed']);
  await t.rejects(fs.access(path.join(dir, 'trust-state.json')), 'record removed with the CA');
});

t.test('macOS: not root means a clear message and no change', async (t) => {
  const { dir, home } = await setup(t);
  const rec = recordingRunner();
  const [change] = await installTrust(dir, { context: { platform: 'darwin', isRoot: false, runner: rec.runner, homeDirs: [home] } });
  t.equal(change?.status, 'needs-privileges');
  t.match(change?.notes.join('\n'), /needs an administrator \(run with sudo\)/);
  t.notOk(rec.lines.some((l) => l.includes('add-trusted-cert')));
});

t.test('macOS: renewing removes the old CA by its recorded copy, then trusts the new one', async (t) => {
  const { dir, home, ca: oldCa } = await setup(t);
  const present = new Set<string>();
  const rec = recordingRunner((line, _cmd, args) => {
    if (line.startsWith('security find-certificate')) return { stdout: [...present].map((h) => `SHA-1 hash: ${h}\n`).join('') };
    if (line.startsWith('security delete-certificate')) present.delete(args[2]!);
    return undefined;
  });
  const context = { platform: 'darwin' as const, isRoot: true, runner: rec.runner, homeDirs: [home] };
  await installTrust(dir, { context });
  present.add(oldCa.sha1.toUpperCase());
  await renewCertificates(dir);
  const { ca: newCa } = await describeCertificate(dir);
  rec.clear();
  await installTrust(dir, { context });
  t.equal(rec.lines.length, 5);
  t.match(rec.lines[1], /^security remove-trusted-cert -d .*nhiicc-old-ca-[^/]+\/ca\.crt$/, 'old CA from a temporary copy');
  t.equal(rec.lines[2], `security delete-certificate -Z ${oldCa.sha1.toUpperCase()} ${KEYCHAIN}`);
  t.equal(rec.lines[4], `security add-trusted-cert -d -r trustRoot -k ${KEYCHAIN} ${path.join(dir, 'ca.crt')}`);
  const state = JSON.parse(await fs.readFile(path.join(dir, 'trust-state.json'), 'utf8'));
  t.same(state.cas.map((c: { sha256: string }) => c.sha256), [newCa.sha256], 'only the new CA recorded');
});

t.test('Windows: Root store install, status, uninstall', async (t) => {
  const { dir, home, ca, caFile } = await setup(t);
  let inStore = false;
  const rec = recordingRunner((line) => {
    if (line.startsWith('certutil -store')) return { code: inStore ? 0 : 1 };
    if (line.startsWith('certutil -addstore')) inStore = true;
    if (line.startsWith('certutil -delstore')) inStore = false;
    return undefined;
  });
  const context = { platform: 'win32' as const, isRoot: false, runner: rec.runner, homeDirs: [home], env: {} };

  const installed = await installTrust(dir, { context });
  t.same(rec.lines, [`certutil -store Root ${ca.serialNumber}`, `certutil -addstore -f Root ${caFile}`]);
  t.same(installed.map((c) => [c.store, c.status]), [['windows-root', 'changed']]);

  rec.clear();
  const status = await trustStatus(dir, { context });
  t.same(rec.lines, [`certutil -store Root ${ca.serialNumber}`]);
  t.ok(status.find((s) => s.store === 'windows-root')?.trusted);

  rec.clear();
  await uninstallTrust(dir, { context });
  t.same(rec.lines, [`certutil -store Root ${ca.serialNumber}`, `certutil -delstore Root ${ca.serialNumber}`]);
  t.notOk(inStore);
});

t.test('Windows: access denied is reported as needing an elevated prompt', async (t) => {
  const { dir, home } = await setup(t);
  const rec = recordingRunner((line) =>
    line.startsWith('certutil -store')
      ? { code: 1 }
      : { code: 5, stdout: 'Root "Trusted Root Certification Authorities"\r\nCertUtil: -addstore command FAILED: 0x80070005 (WIN32: 5 ERROR_ACCESS_DENIED)\r\nCertUtil: Access is denied.\r\n' },
  );
  const [change] = await installTrust(dir, { context: { platform: 'win32', runner: rec.runner, homeDirs: [home], env: {} } });
  t.equal(change?.status, 'needs-privileges');
  t.match(change?.notes.join('\n'), /elevated \(Run as administrator\) prompt/);
  await t.rejects(fs.access(path.join(dir, 'trust-state.json')), 'nothing recorded');
});
