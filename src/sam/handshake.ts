import crypto from 'node:crypto';
import { decryptPacket, encryptPacket } from './cipher.js';
import { CLIENT_NONCE_LENGTH, HELLO, L_KEY, PACKET_END, SESSION_KEY_LENGTH } from './constants.js';
import { SamError } from './errors.js';
import { cipherFramer, type SamSocket } from './packets.js';
import { type ClientKeys, decryptPkcs1, encryptPkcs1 } from './rsa.js';

const HELLO_PREFIX = Buffer.from('Hello ', 'latin1');
const HELLO_LENGTH = HELLO.nonceStart + HELLO.nonceLength;

/**
 * The per-connection key exchange (docs/protocol.md §6.1); resolves to
 * the 24-byte session key. `keys` is the fresh client pair for this
 * connection.
 */
export async function handshake(socket: SamSocket, keys: ClientKeys, replyTimeoutMs: number): Promise<Buffer> {
  const hello = Buffer.concat([HELLO_PREFIX, Buffer.from(keys.publicPem.replace(/\n$/, ''), 'latin1')]);
  await socket.send(encryptPacket(L_KEY, hello), 'client hello', replyTimeoutMs);

  const reply = await socket.read('server hello', replyTimeoutMs, cipherFramer);
  const { serverPem, serverNonce } = parseServerHello(reply, keys);

  // The server key is only used to encrypt to it, so an unusable key is the
  // "encrypt to server key" failure rather than a bad hello.
  const clientNonce = crypto.randomBytes(CLIENT_NONCE_LENGTH);
  let encryptedNonce: Buffer;
  try {
    encryptedNonce = encryptPkcs1(crypto.createPublicKey(serverPem), clientNonce);
  } catch (err) {
    throw new SamError('server key', `cannot encrypt to the SAM's public key: ${(err as Error).message}`);
  }
  const len = Buffer.from(` ${encryptedNonce.length} `, 'latin1');
  await socket.send(Buffer.concat([len, encryptedNonce, PACKET_END]), 'client nonce', replyTimeoutMs);

  return Buffer.concat([clientNonce, serverNonce]).subarray(0, SESSION_KEY_LENGTH);
}

/** `X` = `Hello ` ‖ server PEM (to 0x116) ‖ 5 unused bytes ‖ server nonce encrypted to us (at 0x11B, 0x80 bytes). */
function parseServerHello(packet: Buffer, keys: ClientKeys): { serverPem: string; serverNonce: Buffer } {
  let x: Buffer;
  try {
    x = decryptPacket(L_KEY, packet);
  } catch {
    throw new SamError('server hello', 'the SAM hello does not decrypt with L_KEY');
  }
  if (x.length < HELLO_LENGTH || !x.subarray(0, 5).equals(HELLO_PREFIX.subarray(0, 5))) {
    throw new SamError('server hello', `the SAM hello is malformed (${x.length} bytes)`);
  }
  let serverNonce: Buffer;
  try {
    serverNonce = decryptPkcs1(keys.privateKey, x.subarray(HELLO.nonceStart, HELLO_LENGTH));
  } catch {
    throw new SamError('server hello', 'the server nonce in the SAM hello does not decrypt with our key');
  }
  if (CLIENT_NONCE_LENGTH + serverNonce.length < SESSION_KEY_LENGTH) {
    throw new SamError('server hello', `the server nonce is ${serverNonce.length} bytes, too short for a session key`);
  }
  return { serverPem: x.subarray(HELLO.pemStart, HELLO.pemEnd).toString('latin1'), serverNonce };
}
