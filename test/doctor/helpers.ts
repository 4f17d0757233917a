import { issueServerCertificate } from '../../src/tls/certificates.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TestCertificate {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A CA and server certificate like `cert init` makes, but with chosen dates and names. */
export function makeCertificate(options: { notBefore?: Date; days: number; dnsNames?: readonly string[]; ips?: readonly string[] }): Promise<TestCertificate> {
  return issueServerCertificate({
    notBefore: options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000),
    notAfter: new Date(Date.now() + options.days * DAY_MS),
    ...(options.dnsNames ? { dnsNames: options.dnsNames } : {}),
    ...(options.ips ? { ips: options.ips } : {}),
  });
}
