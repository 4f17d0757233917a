// The Windows trust path, checked by its exact command lines (macOS: darwin.test.ts).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { describeCertificate, ensureServerCertificate } from '../../src/tls/certificates.js';
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
