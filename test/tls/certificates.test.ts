import { createPrivateKey, createPublicKey, X509Certificate as NodeX509 } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createTransientCa } from '../../src/tls/certificate-authority.js';
import { x509 } from '../../src/tls/x509.js';
import {
  describeCertificate,
  ensureServerCertificate,
  expiryWarning,
  renewCertificates,
} from '../../src/tls/certificates.js';
import { importKey, newKeys, run, signLeaf } from './helpers.js';

const tempDir = async (t: { teardown(fn: () => unknown): void }) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-tls-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
};

t.test('first call creates the files with safe modes; the second loads them', async (t) => {
  const dir = path.join(await tempDir(t), 'config');
  const oldUmask = process.umask(0);
  t.teardown(() => void process.umask(oldUmask));

  const first = await ensureServerCertificate(dir);
  t.equal((await fs.stat(dir)).mode & 0o777, 0o700, 'config dir 0700');
  t.equal((await fs.stat(path.join(dir, 'server.key'))).mode & 0o777, 0o600, 'key 0600 even with umask 0');
  t.equal((await fs.stat(path.join(dir, 'server.crt'))).mode & 0o777, 0o644);
  t.equal((await fs.stat(path.join(dir, 'ca.crt'))).mode & 0o777, 0o644);
  t.same((await fs.readdir(dir)).sort(), ['ca.crt', 'server.crt', 'server.key'], 'nothing else written');
  t.equal(first.dir, dir);
  t.equal(first.notAfter.getTime(), new Date(new NodeX509(first.cert).validTo).getTime());

  const keyStat = await fs.stat(path.join(dir, 'server.key'));
  const second = await ensureServerCertificate(dir);
  t.same(second, first, 'same certificate and key');
  t.equal((await fs.stat(path.join(dir, 'server.key'))).mtimeMs, keyStat.mtimeMs, 'not rewritten');
});

t.test('the CA key is nowhere: server.key is the only private key and it is not the CA key', async (t) => {
  const dir = await tempDir(t);
  const tls = await ensureServerCertificate(dir);
  for (const name of await fs.readdir(dir, { recursive: true })) {
    const text = await fs.readFile(path.join(dir, name), 'utf8');
    if (name !== 'server.key') t.notMatch(text, /PRIVATE KEY/, `${name} holds no private key`);
  }
  const serverPublic = createPublicKey(createPrivateKey(tls.key)).export({ type: 'spki', format: 'der' });
  const caPublic = new NodeX509(tls.ca).publicKey.export({ type: 'spki', format: 'der' });
  t.notOk(serverPublic.equals(caPublic), 'server key is not the CA key');
});

t.test('CA: constrained to our names, cannot sign further CAs', async (t) => {
  const dir = await tempDir(t);
  const tls = await ensureServerCertificate(dir);
  const ca = new x509.X509Certificate(tls.ca);

  const basic = ca.getExtension(x509.BasicConstraintsExtension);
  t.ok(basic?.ca, 'CA:true');
  t.equal(basic?.pathLength, 0, 'pathLen 0');
  t.ok(basic?.critical, 'basicConstraints critical');
  const usage = ca.getExtension(x509.KeyUsagesExtension);
  t.equal(usage?.usages, x509.KeyUsageFlags.keyCertSign, 'keyCertSign only');
  t.ok(usage?.critical, 'keyUsage critical');
  const constraints = ca.getExtension('2.5.29.30');
  t.ok(constraints, 'Name Constraints present');
  t.ok(constraints?.critical, 'Name Constraints critical');

  const text = (await run('openssl', ['x509', '-in', path.join(dir, 'ca.crt'), '-noout', '-text'])).stdout;
  const block = /X509v3 Name Constraints: critical\n\s+Permitted:\n((?:\s+(?:DNS|IP):.*\n)+)/.exec(text);
  t.ok(block, 'openssl shows a critical Name Constraints extension');
  t.same(
    block?.[1]?.trim().split(/\n\s*/),
    [
      'DNS:iccert.nhi.gov.tw',
      'DNS:localhost',
      'IP:127.0.0.1/255.255.255.255',
      'IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
    ],
    'permits exactly our names',
  );
  t.notMatch(text, /Excluded/);
});

t.test('server certificate: names, usage, lifetime, chain', async (t) => {
  const dir = await tempDir(t);
  const tls = await ensureServerCertificate(dir);
  const cert = new x509.X509Certificate(tls.cert);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  t.same(
    san?.names.toJSON().map((n) => `${n.type}:${n.value}`),
    ['dns:iccert.nhi.gov.tw', 'dns:localhost', 'ip:127.0.0.1', 'ip:::1'],
  );
  t.same(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages, [x509.ExtendedKeyUsage.serverAuth]);
  t.notOk(cert.getExtension(x509.BasicConstraintsExtension)?.ca, 'not a CA');
  const days = (cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000;
  t.ok(days <= 825, `validity ${days} days <= 825`);
  t.ok(cert.signatureAlgorithm.hash.name === 'SHA-256', 'SHA-256');

  for (const host of ['iccert.nhi.gov.tw', 'localhost']) {
    const ok = await run('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-verify_hostname', host, path.join(dir, 'server.crt')]);
    t.equal(ok.code, 0, `openssl verifies it for ${host}: ${ok.stderr}`);
  }
  const ip = await run('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-verify_ip', '127.0.0.1', path.join(dir, 'server.crt')]);
  t.equal(ip.code, 0, 'and for 127.0.0.1');
});

t.test('nobody can get another name accepted under this CA', async (t) => {
  const dir = await tempDir(t);
  const tls = await ensureServerCertificate(dir);
  const caFile = path.join(dir, 'ca.crt');
  const caSubject = new x509.X509Certificate(tls.ca).subject;
  const verify = async (name: string, caPath: string, pem: string) => {
    const file = path.join(dir, `${name}.pem`);
    await fs.writeFile(file, pem);
    return run('openssl', ['verify', '-CAfile', caPath, file]);
  };

  // Without the CA key, the only option is a new key claiming the CA's name.
  const forger = await newKeys();
  for (const name of ['evil.example', 'iccert.nhi.gov.tw']) {
    const forged = await verify(`forged-${name}`, caFile, await signLeaf(name, caSubject, forger.privateKey));
    t.not(forged.code, 0, `forged ${name} rejected`);
    t.match(forged.stderr + forged.stdout, /signature failure/, 'because the signature does not match');
  }

  // Even with the key, the constraints would stop other names: prove it with a
  // throwaway CA built the same way whose key the test keeps.
  const throwaway = await createTransientCa(new Date(Date.now() - 60_000), new Date(Date.now() + 86_400_000));
  const throwawayFile = path.join(dir, 'throwaway-ca.crt');
  await fs.writeFile(throwawayFile, throwaway.certPem);
  const key = await importKey(throwaway.keyPem);
  const subject = new x509.X509Certificate(throwaway.certPem).subject;

  const good = await verify('good', throwawayFile, await signLeaf('iccert.nhi.gov.tw', subject, key));
  t.equal(good.code, 0, `iccert.nhi.gov.tw accepted: ${good.stderr}`);
  const evil = await verify('evil', throwawayFile, await signLeaf('evil.example', subject, key));
  t.not(evil.code, 0, 'evil.example rejected');
  t.match(evil.stderr + evil.stdout, /permitted subtree violation|name constraint/i, 'by the name constraints');
});

t.test('renew replaces CA and server certificate', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureServerCertificate(dir);
  const renewed = await renewCertificates(dir);
  t.not(renewed.ca, first.ca);
  t.not(renewed.cert, first.cert);
  t.not(renewed.key, first.key);
  t.same(await ensureServerCertificate(dir), renewed);
  t.equal((await fs.stat(path.join(dir, 'server.key'))).mode & 0o777, 0o600);
});

t.test('describeCertificate reports what `cert status` shows', async (t) => {
  const dir = await tempDir(t);
  const tls = await ensureServerCertificate(dir);
  const d = await describeCertificate(dir);
  t.equal(d.server.subject, 'CN=iccert.nhi.gov.tw');
  t.same(d.server.subjectAltNames, ['iccert.nhi.gov.tw', 'localhost', '127.0.0.1', '::1']);
  t.equal(d.server.issuer, d.ca.subject);
  t.match(d.ca.sha256, /^[0-9a-f]{64}$/);
  t.equal(d.server.notAfter.getTime(), tls.notAfter.getTime());
  t.ok(d.ca.notBefore < d.ca.notAfter);
  await t.rejects(describeCertificate(path.join(dir, 'missing')), /nhiicc cert init/);
});

t.test('incomplete files are an error, not a silent regeneration', async (t) => {
  const dir = await tempDir(t);
  await ensureServerCertificate(dir);
  await fs.rm(path.join(dir, 'ca.crt'));
  await t.rejects(ensureServerCertificate(dir), /incomplete certificate files.*nhiicc cert renew/);
});

t.test('expiryWarning only within 30 days', async (t) => {
  const notAfter = new Date('2030-01-31T00:00:00Z');
  const tls = { notAfter, dir: '/etc/nhiicc' };
  t.equal(expiryWarning(tls, new Date('2029-12-01T00:00:00Z')), undefined);
  t.match(expiryWarning(tls, new Date('2030-01-11T00:00:00Z')), /expires on 2030-01-31 \(20 days left\).*nhiicc cert renew/);
  t.match(expiryWarning(tls, new Date('2030-02-02T00:00:00Z')), /expired on 2030-01-31/);
});
