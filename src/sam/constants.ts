/** Fixed values of the SAM protocol (PROTOCOL.md §5, §6). */

/** `bKEY`: the ASCII text `12345678123456780` ten times (170 bytes). */
export const B_KEY = Buffer.from('12345678123456780'.repeat(10), 'latin1');

export const K_BOX = Buffer.from(
  '56 28 34 2E 78 05 0F 5A 36 44 42 19 26 95 26 4D 03 10 15 58 03 40 5A 72 1E 0B 49 69 4B 15 29 06'.replace(/ /g, ''),
  'hex',
);

/** The 3DES key of the SAM handshake: `bKEY[K_BOX[i]]` for i < 16, then 8 zero bytes. */
export const L_KEY = Buffer.concat([Buffer.from([...K_BOX.subarray(0, 16)].map((i) => B_KEY[i]!)), Buffer.alloc(8)]);

/** Every SAM packet, either direction, ends with these three bytes. */
export const PACKET_END = Buffer.from('<E>', 'latin1');

/** Sizes of the handshake hello that the server sends (PROTOCOL.md §6 step 2). */
export const HELLO = {
  /** The server PEM sits at `X[6:0x116]`, trailing newline included. */
  pemStart: 6,
  pemEnd: 0x116,
  nonceStart: 0x11b,
  nonceLength: 0x80,
} as const;

export const CLIENT_NONCE_LENGTH = 16;
export const SESSION_KEY_LENGTH = 24;
export const CARD_ID_LENGTH = 12;
export const CARD_RANDOM_LENGTH = 8;
export const CHALLENGE_LENGTH = 32;
export const ANSWER_LENGTH = 16;
export const VALUE_LENGTH = 20;
export const SIGNATURE_LENGTH = 256;
