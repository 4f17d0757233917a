import { getResponse, withLe } from './apdu.js';

export type Transmit = (apdu: Buffer) => Promise<Buffer>;

export interface Response {
  data: Buffer;
  sw: number;
}

export const SW_OK = 0x9000;

export function splitResponse(raw: Buffer): Response {
  if (raw.length < 2) throw new RangeError(`card answer of ${raw.length} bytes has no status word`);
  return { data: raw.subarray(0, raw.length - 2), sw: raw.readUInt16BE(raw.length - 2) };
}

export function formatSw(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/** More GET RESPONSE rounds than any short-APDU answer can need. */
const MAX_CHAINED_RESPONSES = 32;

/**
 * Sends one command and follows the T=0 conventions (docs/protocol.md §3.1):
 * `6C xx` means "send it again with Le = xx", `61 xx` means "xx more bytes
 * wait for GET RESPONSE".
 */
export async function exchange(transmit: Transmit, apdu: Buffer): Promise<Response> {
  let res = splitResponse(await transmit(apdu));
  if (res.sw >> 8 === 0x6c) res = splitResponse(await transmit(withLe(apdu, res.sw & 0xff)));
  const parts = [res.data];
  for (let round = 0; res.sw >> 8 === 0x61; round++) {
    if (round >= MAX_CHAINED_RESPONSES) throw new RangeError('card keeps answering 61xx');
    res = splitResponse(await transmit(getResponse(res.sw & 0xff)));
    parts.push(res.data);
  }
  return { data: Buffer.concat(parts), sw: res.sw };
}
