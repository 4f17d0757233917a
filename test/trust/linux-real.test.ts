// Installs the CA into this machine's real system store and a fresh NSS
// database, proves curl and NSS accept the server certificate, then proves
// uninstall restores both stores exactly.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ensureServerCertificate } from '../../src/tls/certificates.js';
import { LINUX_LAYOUTS } from '../../src/trust/linux.js';
import { installTrust, trustStatus, uninstallTrust } from '../../src/trust/trust.js';

const exec = promisify(execFile);
const run = async (cmd: string, args: string[]) => {
  try {
    const { stdout, stderr } = await exec(cmd, args, { env: { ...process.env, https_proxy: '', HTTPS_PROXY: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

const debian = LINUX_LAYOUTS[0]!;
const missing = await (async () => {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root to change the system store';
  for (const tool of ['certutil', 'curl', 'update-ca-certificates']) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} missing`;
  }
  if (!(await fs.stat(debian.anchorDir).catch(() => undefined))) return `${debian.anchorDir} missing`;
  return undefined;
})();

t.test('system store and NSS trust the server certificate only between install and uninstall', { skip: missing }, async (t) => {
  const configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-cert-'));
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-home-'));
  const nssDir = path.join(home, '.pki', 'nssdb');
  const db = `sql:${nssDir}`;
  const context = { homeDirs: [home] };
  await fs.mkdir(nssDir, { recursive: true });
  t.equal((await run('certutil', ['-d', db, '-N', '--empty-password'])).code, 0, 'fresh NSS database');

  const tls = await ensureServerCertificate(configDir);
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  t.teardown(async () => {
    server.close();
    await uninstallTrust(configDir, { context }).catch(() => undefined);
    await fs.rm(configDir, { recursive: true, force: true });
    await fs.rm(home, { recursive: true, force: true });
  });

  const snapshot = async () => ({
    anchors: await fs.readdir(debian.anchorDir, { recursive: true }),
    links: (await fs.readdir('/etc/ssl/certs')).sort(),
    bundle: createHash('sha256').update(await fs.readFile(debian.bundle)).digest('hex'),
    nss: (await run('certutil', ['-L', '-d', db])).stdout,
  });
  const curl = () =>
    run('curl', ['-sS', '--noproxy', '*', '--max-time', '10', '--resolve', `iccert.nhi.gov.tw:${port}:127.0.0.1`, `https://iccert.nhi.gov.tw:${port}/`]);
  const nssVerify = async () => {
    await run('certutil', ['-A', '-d', db, '-n', 'nhiicc-test-server', '-t', ',,', '-i', path.join(configDir, 'server.crt')]);
    const result = await run('certutil', ['-V', '-u', 'V', '-d', db, '-n', 'nhiicc-test-server']);
    await run('certutil', ['-D', '-d', db, '-n', 'nhiicc-test-server']);
    return result;
  };

  const before = await snapshot();
  t.not((await curl()).code, 0, 'curl rejects the certificate before install');
  t.not((await nssVerify()).code, 0, 'NSS rejects the certificate before install');

  const installed = await installTrust(configDir, { context });
  t.same(
    installed.map((c) => [c.store, c.status]),
    [
      ['linux-system', 'changed'],
      ['nss', 'changed'],
    ],
    'both stores changed',
  );
  const status = await trustStatus(configDir, { context });
  t.ok(status.filter((s) => s.available).every((s) => s.trusted), 'status reports trusted');

  const accepted = await curl();
  t.equal(accepted.code, 0, `curl accepts it: ${accepted.stderr}`);
  t.equal(accepted.stdout, 'ok');
  const nssAccepted = await nssVerify();
  t.equal(nssAccepted.code, 0, `NSS accepts it: ${nssAccepted.stdout}${nssAccepted.stderr}`);

  const again = await installTrust(configDir, { context });
  t.ok(again.every((c) => c.status === 'unchanged'), 'second install changes nothing');

  const removed = await uninstallTrust(configDir, { context });
  t.ok(removed.every((c) => c.status === 'changed'), 'uninstall changed both stores');
  t.not((await curl()).code, 0, 'curl rejects it after uninstall');
  t.not((await nssVerify()).code, 0, 'NSS rejects it after uninstall');
  t.same(await snapshot(), before, 'stores are exactly as before');
  await t.rejects(fs.access(path.join(configDir, 'trust-state.json')), 'no trust record left');
});
