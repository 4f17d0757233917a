import { tripleDesDecrypt, tripleDesEncrypt } from '../cipher/legacy-cipher.js';
import { PACKET_END } from './constants.js';

/**
 * The SAM packet cipher (docs/protocol.md §6): `enc(k, p)` is 3DES-ECB with
 * PKCS#5 padding, then the `<E>` terminator.
 */
export const encrypt3des = (key: Buffer, plain: Buffer): Buffer => tripleDesEncrypt(key, plain);

/** Throws on a length that is not whole blocks or on bad PKCS#5 padding. */
export const decrypt3des = (key: Buffer, encrypted: Buffer): Buffer => tripleDesDecrypt(key, encrypted);

/** `enc(k, p)`: what goes on the wire. */
export function encryptPacket(key: Buffer, plain: Buffer): Buffer {
  return Buffer.concat([encrypt3des(key, plain), PACKET_END]);
}

/** The inverse of `encryptPacket`; `packet` includes the terminator. */
export function decryptPacket(key: Buffer, packet: Buffer): Buffer {
  if (!endsWithTerminator(packet)) throw new Error('SAM packet does not end with <E>');
  return decrypt3des(key, packet.subarray(0, packet.length - PACKET_END.length));
}

export function endsWithTerminator(buf: Buffer): boolean {
  return buf.length >= PACKET_END.length && buf.subarray(buf.length - PACKET_END.length).equals(PACKET_END);
}
