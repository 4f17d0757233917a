import {
  AUTH_ANSWER_LENGTH,
  GET_CARD_RANDOM,
  mutualAuthApdu,
  READ_BASIC_PROFILE,
  READ_CARD_DATA,
  READ_CARD_ID,
  SELECT_NHI,
} from './apdu.js';
import { CardError, type CardStep } from './errors.js';
import { type BasicProfile, parseBasicProfile, parseCardId, parseCardMark, parseCardRandom } from './profile.js';
import { exchange, formatSw, SW_OK, type Transmit } from './response.js';

/**
 * The card's multi-APDU steps, written against a bare `transmit` so that they
 * stay free of I/O: the PC/SC layer supplies it inside one transaction.
 * Each runs on a card whose NHI applet is selected: the reader layer hands
 * over only a card that NHI_CARD accepted (its SELECT) at the start of the
 * same transaction (docs/protocol.md §3.6).
 */

async function step(transmit: Transmit, apdu: Buffer, name: CardStep): Promise<Buffer> {
  const { data, sw } = await exchange(transmit, apdu);
  if (sw !== SW_OK) throw new CardError(name, `${name} failed: the card answered ${formatSw(sw)}`, sw);
  return data;
}

/** SELECT of the NHI applet: true when the card has it (docs/protocol.md §3). */
export async function selectNhi(transmit: Transmit): Promise<boolean> {
  return (await exchange(transmit, SELECT_NHI)).sw === SW_OK;
}

/** The card the protocol reads, as the reader layer is told to look for it. */
export const NHI_CARD = { name: 'an NHI card', accepts: selectNhi } as const;

export interface CardProfile extends BasicProfile {
  mark: string;
}

export async function readProfile(transmit: Transmit): Promise<CardProfile> {
  const basic = parseBasicProfile(await step(transmit, READ_BASIC_PROFILE, 'READ basic profile'));
  const mark = parseCardMark(await step(transmit, READ_CARD_DATA, 'READ card data'));
  return { ...basic, mark };
}

/** The card id (its card number), which EnCrypt's key is made from (docs/protocol.md §5.1). */
export async function readCardId(transmit: Transmit): Promise<Buffer> {
  return parseCardId(await step(transmit, READ_CARD_ID, 'READ card id'));
}

/** Card id and card random, the card's half of the SAM exchange (docs/protocol.md §6.3). */
export async function readIdAndRandom(transmit: Transmit): Promise<{ cardId: Buffer; random: Buffer }> {
  const cardId = await readCardId(transmit);
  const random = parseCardRandom(await step(transmit, GET_CARD_RANDOM, 'GET card random'));
  return { cardId, random };
}

export async function mutualAuth(transmit: Transmit, challenge: Buffer): Promise<Buffer> {
  const answer = await step(transmit, mutualAuthApdu(challenge), 'MUTUAL AUTH');
  if (answer.length !== AUTH_ANSWER_LENGTH) {
    throw new CardError('MUTUAL AUTH', `MUTUAL AUTH answered ${answer.length} bytes, need ${AUTH_ANSWER_LENGTH}`);
  }
  return answer;
}
