import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { x509 } from '../../src/tls/x509.js';

export const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(cmd, args, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function importKey(pkcs8Pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pkcs8Pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign']) as Promise<CryptoKey>;
}

/** A TLS server leaf for `dnsName`, claiming `issuer` and signed by `signingKey`. */
export async function signLeaf(dnsName: string, issuer: string, signingKey: CryptoKey): Promise<string> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: `CN=${dnsName}`,
    issuer,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }]),
    ],
  });
  return `${cert.toString('pem')}\n`;
}
