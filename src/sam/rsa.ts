import crypto from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPair = promisify(crypto.generateKeyPair);

export interface ClientKeys {
  privateKey: crypto.KeyObject;
  /** SubjectPublicKeyInfo PEM, as Node writes it (LF line ends, trailing newline). */
  publicPem: string;
}

/** A fresh RSA-1024 pair per connection, as the SAM handshake expects. */
export async function generateClientKeys(): Promise<ClientKeys> {
  const { publicKey, privateKey } = await generateKeyPair('rsa', { modulusLength: 1024, publicExponent: 0x10001 });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function encryptPkcs1(publicKey: crypto.KeyObject, data: Buffer): Buffer {
  return crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, data);
}

/** A single error for every way a ciphertext can be wrong, so failures say nothing about which check failed. */
export class RsaDecryptError extends Error {
  override readonly name = 'RsaDecryptError';
  constructor() {
    super('RSA decryption failed');
  }
}

/**
 * PKCS#1 v1.5 decryption. Node 20 refuses `RSA_PKCS1_PADDING` for private
 * decryption (Marvin-attack hardening, CVE-2023-46809), so the raw RSA result
 * is unpadded here.
 */
export function decryptPkcs1(privateKey: crypto.KeyObject, encrypted: Buffer): Buffer {
  const size = modulusBytes(privateKey);
  // RSA_NO_PADDING silently accepts short input (left-padded with zeros).
  if (encrypted.length !== size) throw new RsaDecryptError();
  let em: Buffer;
  try {
    em = crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_NO_PADDING }, encrypted);
  } catch {
    throw new RsaDecryptError();
  }
  return unpadPkcs1Type2(em);
}

/**
 * Removes `00 02 PS 00` (PS: at least 8 non-zero bytes). Every byte is
 * visited and no branch depends on where the check fails, which keeps the
 * work the same for every malformed block; only the final verdict branches.
 */
export function unpadPkcs1Type2(em: Buffer): Buffer {
  const k = em.length;
  let bad = k < 11 ? 1 : 0;
  bad |= isNonZero(em[0] ?? 1);
  bad |= isNonZero((em[1] ?? 0) ^ 0x02);
  let found = 0;
  let separator = 0;
  for (let i = 2; i < k; i++) {
    const zero = 1 ^ isNonZero(em[i]!);
    const first = zero & (found ^ 1);
    separator |= -first & i;
    found |= zero;
  }
  bad |= found ^ 1;
  // Separator index below 10 means fewer than 8 padding bytes.
  bad |= ((separator - 10) >>> 31) & 1;
  if (bad !== 0) throw new RsaDecryptError();
  return Buffer.from(em.subarray(separator + 1));
}

/** 1 when the byte is non-zero, 0 otherwise, without a branch. */
function isNonZero(b: number): number {
  return ((b | -b) >>> 31) & 1;
}

function modulusBytes(key: crypto.KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (!bits) throw new RsaDecryptError();
  return Math.ceil(bits / 8);
}
