/**
 * The fixed keys of the official component (docs/protocol.md §5), used by EnCrypt
 * and by the SAM handshake. They are public knowledge, not secrets: they only
 * reproduce the wire format the NHI servers expect.
 */
const B_KEY = Buffer.from('12345678123456780'.repeat(10), 'latin1');

const K_BOX = [
  0x56, 0x28, 0x34, 0x2e, 0x78, 0x05, 0x0f, 0x5a, 0x36, 0x44, 0x42, 0x19, 0x26, 0x95, 0x26, 0x4d, 0x03, 0x10, 0x15, 0x58, 0x03,
  0x40, 0x5a, 0x72, 0x1e, 0x0b, 0x49, 0x69, 0x4b, 0x15, 0x29, 0x06,
];
const K_BOX1 = [...K_BOX.slice(0, 16), 0x2d, 0x41, 0x4d, 0x1f, 0x41, 0x62, 0x15, 0x2f];

const pick = (box: number[]) => Buffer.from(box.map((i) => B_KEY[i]!));

/** 3DES key of the SAM handshake. */
export const L_KEY = Buffer.concat([pick(K_BOX.slice(0, 16)), Buffer.alloc(8)]);
/** 3DES key of EnCrypt's outer layer. */
export const L_KEY1 = pick(K_BOX1);
