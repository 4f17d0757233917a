/** Command APDUs of the NHI card (docs/protocol.md §3.1). Pure data, no I/O. */

const APPLET_AID = (last: number) =>
  Buffer.from([0xd1, 0x58, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, last, 0x00]);

const select = (aid: Buffer) => Buffer.concat([Buffer.from([0x00, 0xa4, 0x04, 0x00, aid.length]), aid]);

/** Sizes of what the card answers and is sent (docs/protocol.md §3.1, §3.5), for this layer and the SAM's. */
export const CARD_ID_LENGTH = 12;
export const CARD_RANDOM_LENGTH = 8;
export const CHALLENGE_LENGTH = 32;
export const AUTH_ANSWER_LENGTH = 16;

export const SELECT_NHI = select(APPLET_AID(0x11));
export const READ_BASIC_PROFILE = Buffer.from([0x00, 0xca, 0x11, 0x00, 0x02, 0x00, 0x00]);
export const READ_CARD_DATA = Buffer.from([0x00, 0xca, 0x24, 0x00, 0x02, 0x00, 0x00]);
export const READ_CARD_ID = Buffer.from([0x00, 0xca, 0x00, 0x00, 0x02, 0x00, 0x00]);
export const GET_CARD_RANDOM = Buffer.from([0x00, 0x84, 0x00, 0x00, CARD_RANDOM_LENGTH]);

export function mutualAuthApdu(challenge: Buffer): Buffer {
  if (challenge.length !== CHALLENGE_LENGTH) {
    throw new RangeError(`mutual-auth challenge must be ${CHALLENGE_LENGTH} bytes, got ${challenge.length}`);
  }
  return Buffer.concat([Buffer.from([0x00, 0x82, 0x11, 0x12, CHALLENGE_LENGTH]), challenge, Buffer.from([AUTH_ANSWER_LENGTH])]);
}

export function getResponse(length: number): Buffer {
  return Buffer.from([0x00, 0xc0, 0x00, 0x00, length & 0xff]);
}

/**
 * The same command with its Le set to `le` (for a `6C xx` answer). A short
 * APDU is case 2 (header + Le), case 3 (header + Lc + data) or case 4 (case 3
 * + Le); Lc tells them apart.
 */
export function withLe(apdu: Buffer, le: number): Buffer {
  if (apdu.length < 4) throw new RangeError('APDU shorter than its header');
  if (apdu.length <= 5) return Buffer.concat([apdu.subarray(0, 4), Buffer.from([le])]);
  const lc = apdu[4]!;
  const body = apdu.subarray(0, 5 + lc);
  return Buffer.concat([body, Buffer.from([le])]);
}
