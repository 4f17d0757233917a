import { CARD_ID_LENGTH, CARD_RANDOM_LENGTH } from './apdu.js';
import { decodeBig5, hasUndecodable } from './big5.js';
import { CardError } from './errors.js';
import { rocToIso } from './roc-date.js';

/** The basic profile file of the card (docs/protocol.md §3.2), decoded and checked. */
export interface BasicProfile {
  cardNo: string;
  name: string;
  idNo: string;
  birthDateRoc: string;
  birthDate: string;
  sex: 'M' | 'F';
  issueDateRoc: string;
  issueDate: string;
}

export const BASIC_PROFILE_LENGTH = 57;

const CARD_NO = /^\d{12}$/;
// National ID (A123456789) and both resident-permit formats (AB12345678, A812345678).
const ID_NO = /^[A-Z][A-Z0-9]\d{8}$/;

/** Thrown for any malformed profile: never return a half-filled one. */
function malformed(what: string): CardError {
  // The message names the field, never its value: values are personal data.
  return new CardError('READ basic profile', `basic profile from the card is malformed: ${what}`);
}

function ascii(bytes: Buffer): string {
  return bytes.toString('latin1');
}

export function parseBasicProfile(data: Buffer): BasicProfile {
  if (data.length < BASIC_PROFILE_LENGTH) throw malformed(`${data.length} bytes, need ${BASIC_PROFILE_LENGTH}`);
  const cardNo = ascii(data.subarray(0, 12));
  if (!CARD_NO.test(cardNo)) throw malformed('card number');

  const nameBytes = data.subarray(12, 32);
  const nul = nameBytes.indexOf(0);
  const name = decodeBig5(nul === -1 ? nameBytes : nameBytes.subarray(0, nul)).trim();
  if (name === '' || hasUndecodable(name)) throw malformed('name is not Big5-HKSCS');

  const idNo = ascii(data.subarray(32, 42));
  if (!ID_NO.test(idNo)) throw malformed('ID number');

  const birthDateRoc = ascii(data.subarray(42, 49));
  const birthDate = rocToIso(birthDateRoc);
  if (!birthDate) throw malformed('birth date');

  const sex = ascii(data.subarray(49, 50));
  if (sex !== 'M' && sex !== 'F') throw malformed('sex');

  const issueDateRoc = ascii(data.subarray(50, 57));
  const issueDate = rocToIso(issueDateRoc);
  if (!issueDate) throw malformed('issue date');

  return { cardNo, name, idNo, birthDateRoc, birthDate, sex, issueDateRoc, issueDate };
}

/** The card-data file's first character is the `<mark>` field of GetBasic. */
export function parseCardMark(data: Buffer): string {
  const mark = ascii(data.subarray(0, 1));
  if (!/^[\x21-\x7e]$/.test(mark)) throw new CardError('READ card data', 'card data file is empty or not ASCII');
  return mark;
}

export function parseCardId(data: Buffer): Buffer {
  if (data.length < CARD_ID_LENGTH) throw new CardError('READ card id', `card id of ${data.length} bytes, need ${CARD_ID_LENGTH}`);
  return Buffer.from(data.subarray(0, CARD_ID_LENGTH));
}

export function parseCardRandom(data: Buffer): Buffer {
  if (data.length < CARD_RANDOM_LENGTH) throw new CardError('GET card random', `card random of ${data.length} bytes, need ${CARD_RANDOM_LENGTH}`);
  return Buffer.from(data.subarray(0, CARD_RANDOM_LENGTH));
}
