/** Fixed values of the SAM protocol (docs/protocol.md §5, §6). */

/** The 3DES key of the SAM handshake, shared with EnCrypt's key table. */
export { L_KEY } from '../cipher/legacy-keys.js';

/** Every SAM packet, either direction, ends with these three bytes. */
export const PACKET_END = Buffer.from('<E>', 'latin1');

/** Sizes of the handshake hello that the server sends (docs/protocol.md §6.1). */
export const HELLO = {
  /** The server PEM sits at `X[6:0x116]`, trailing newline included. */
  pemStart: 6,
  pemEnd: 0x116,
  nonceStart: 0x11b,
  nonceLength: 0x80,
} as const;

export const CLIENT_NONCE_LENGTH = 16;
export const SESSION_KEY_LENGTH = 24;
export const VALUE_LENGTH = 20;
export const SIGNATURE_LENGTH = 256;
