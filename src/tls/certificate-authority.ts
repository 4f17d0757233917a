import { webcrypto, randomBytes } from 'node:crypto';
import { SERVER_DNS_NAMES, SERVER_IP_ADDRESSES } from '../config/names.js';
import { encodeNameConstraints, NAME_CONSTRAINTS_OID } from './name-constraints.js';
import { x509 } from './x509.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TransientCa {
  certPem: string;
  /** PKCS#8 PEM; lives only as long as the caller holds this object. */
  keyPem: string;
}

/**
 * A CA made for one installation. It is name-constrained to the loopback
 * names and meant to sign exactly one server certificate, after which the
 * caller drops the key.
 */
export async function createTransientCa(notBefore: Date, notAfter: Date): Promise<TransientCa> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: positiveSerial(),
    name: `CN=nhiicc local CA ${randomBytes(4).toString('hex')}, O=nhiicc (this computer only)`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      new x509.Extension(
        NAME_CONSTRAINTS_OID,
        true,
        encodeNameConstraints({
          dns: [...SERVER_DNS_NAMES],
          ip: SERVER_IP_ADDRESSES.map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`)),
        }),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: `${cert.toString('pem')}\n`, keyPem: toPem('PRIVATE KEY', pkcs8) };
}

function positiveSerial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}

function toPem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}
