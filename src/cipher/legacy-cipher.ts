import crypto from 'node:crypto';

/**
 * The ECB ciphers of the official component (docs/protocol.md §5). OpenSSL 3 has
 * no single DES by default; DES with key K is 3DES with K‖K‖K.
 */

function ecb(key: Buffer, data: Buffer, pkcs5: boolean, decrypt = false): Buffer {
  const cipher = decrypt ? crypto.createDecipheriv('des-ede3-ecb', key, null) : crypto.createCipheriv('des-ede3-ecb', key, null);
  cipher.setAutoPadding(pkcs5);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

export function tripleDesEncrypt(key24: Buffer, data: Buffer, pkcs5 = true): Buffer {
  return ecb(key24, data, pkcs5);
}

export function tripleDesDecrypt(key24: Buffer, data: Buffer, pkcs5 = true): Buffer {
  return ecb(key24, data, pkcs5, true);
}

export function singleDesKey(key8: Buffer): Buffer {
  if (key8.length !== 8) throw new RangeError('a DES key is 8 bytes');
  return Buffer.concat([key8, key8, key8]);
}

/**
 * Cut into 7-byte pieces (the last zero-filled) and append one random byte to
 * each, giving 8-byte blocks.
 */
export function pad7(data: Buffer, random: (n: number) => Buffer = crypto.randomBytes): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / 7));
  const out = Buffer.alloc(blocks * 8);
  const noise = random(blocks);
  for (let i = 0; i < blocks; i++) {
    data.copy(out, i * 8, i * 7, Math.min(data.length, i * 7 + 7));
    out[i * 8 + 7] = noise[i]!;
  }
  return out;
}
