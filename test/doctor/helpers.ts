import { generate } from 'selfsigned';
import { createTransientCa, SERVER_DNS_NAMES, SERVER_IP_ADDRESSES } from '../../src/tls/certificate-authority.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TestCertificate {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A CA and server certificate like `cert init` makes, but with chosen dates and names. */
export async function makeCertificate(options: { notBefore?: Date; days: number; dnsNames?: readonly string[]; ips?: readonly string[] }): Promise<TestCertificate> {
  const notBefore = options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(Date.now() + options.days * DAY_MS);
  const ca = await createTransientCa(notBefore, notAfter);
  const dns = options.dnsNames ?? SERVER_DNS_NAMES;
  const ips = options.ips ?? SERVER_IP_ADDRESSES;
  const server = await generate([{ name: 'commonName', value: dns[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return { caPem: ca.certPem, certPem: server.cert, keyPem: server.private };
}
