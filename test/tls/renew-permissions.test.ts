import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensureServerCertificate, renewCertificates } from '../../src/tls/certificates.js';

t.test('renew keeps the group an installer gave the key (and never opens it to others)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-renew-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await ensureServerCertificate(dir);
  const key = path.join(dir, 'server.key');
  const root = process.getuid?.() === 0;
  const group = root ? 65534 : fs.statSync(key).gid; // nogroup, as an installer's service group
  if (root) fs.chownSync(key, 0, group);
  fs.chmodSync(key, 0o640);
  const renewed = await renewCertificates(dir);
  t.not(renewed.cert, first.cert, 'a new certificate');
  const st = fs.statSync(key);
  t.equal(st.mode & 0o777, 0o640, 'group may still read the key');
  t.equal(st.gid, group, 'same group');
  t.equal(fs.statSync(path.join(dir, 'server.crt')).mode & 0o777, 0o644);
});

t.test('a key that was world-readable is not left so', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-renew-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  await ensureServerCertificate(dir);
  fs.chmodSync(path.join(dir, 'server.key'), 0o644);
  await renewCertificates(dir);
  t.equal(fs.statSync(path.join(dir, 'server.key')).mode & 0o777, 0o640);
});

t.test('a first key is 0600', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-renew-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  await ensureServerCertificate(dir);
  t.equal(fs.statSync(path.join(dir, 'server.key')).mode & 0o777, 0o600);
});
