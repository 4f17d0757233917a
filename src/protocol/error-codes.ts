import { CardError, type CardStep } from '../card/errors.js';
import { NoCardError, type NoCardReason, PcscUnavailableError } from '../pcsc/errors.js';
import { SamError, type SamStep } from '../sam/errors.js';

/**
 * The NHIICC error codes that official pages understand (docs/protocol.md §4).
 * Pages show anything else as "A001 component installation problem", so this
 * list is closed: never add a code that is not in the official table.
 * test/docs/error-code-tables.test.ts keeps it, the spec's table and the
 * ESample page's copy equal.
 */
export const NHI_CODES = {
  '4061': 'cannot connect to the NHI SAM service',
  '7001': 'PC/SC environment error',
  '7002': 'cannot access the card reader',
  '7003': 'cannot access the card reader',
  '7004': 'no NHI card inserted (the NHI applet could not be selected)',
  '8001': 'card read error (card id)',
  '8002': 'card read error (card random)',
  '8003': 'card authentication transport error (SAM)',
  '8004': 'card authentication transport error (SAM)',
  '8005': 'card authentication transport error (SAM)',
  '8006': 'the card answer could not be authenticated',
  '8007': 'card authentication transport error (SAM)',
  '8008': 'card authentication transport error (SAM)',
  '8009': 'invalid password length (6..12)',
  '8010': 'reading basic data failed',
  '8011': 'reading basic data failed',
  '8013': 'cannot access the NHI card: check the reader is plugged in and the card inserted',
  '8201': 'service error',
  '8202': 'service error',
  '8302': 'PKCS#11 / key error (SAM handshake)',
  '8303': 'PKCS#11 / key error (SAM handshake)',
  '8304': 'session setup error (SAM handshake)',
  '8305': 'session setup error (SAM handshake)',
  '8306': 'PKCS#11 / key error (SAM handshake)',
  '9001': 'signature verification failed',
  '9002': 'signature verification failed',
  '9999': 'unknown command',
} as const;

export type NhiCode = keyof typeof NHI_CODES;

/*
 * Where each code comes from. The layers below throw their own errors
 * (a card step, why no card could be used, PC/SC unavailable, a SAM step)
 * and know no NHIICC code; these tables, checked against docs/protocol.md
 * §3.1, §3.6 and §6 by test/docs/error-code-tables.test.ts, give each its
 * code here and nowhere else.
 */

/** A card step that failed: its status word or its data (§3.1). */
export const CARD_STEP_CODES: Record<CardStep, NhiCode> = {
  'READ basic profile': '8011',
  'READ card data': '8010',
  'READ card id': '8001',
  'GET card random': '8002',
  'MUTUAL AUTH': '8006',
};

/** No card could be used though PC/SC works (§3.6). */
export const NO_CARD_CODES: Record<NoCardReason, NhiCode> = {
  'no-reader': '8013',
  'unknown-reader': '8013',
  'no-card': '8013',
  removed: '8013',
  unresponsive: '8013',
  'not-accepted': '7004',
};

/** PC/SC cannot be used at all (§3.6). */
export const PCSC_UNAVAILABLE_CODE: NhiCode = '7001';

/** A step of the SAM conversation that failed (§6). */
export const SAM_STEP_CODES: Record<SamStep, NhiCode> = {
  connect: '4061',
  'key pair': '8302',
  'client hello': '8306',
  'server hello': '8305',
  'server key': '8303',
  'client nonce': '8304',
  'service check': '8005',
  'card id and random': '8003',
  challenge: '8005',
  'card answer': '8007',
  signature: '8008',
  value: '8008',
};

/** A failure the protocol layer itself decides on: a bad command (9999), a bad password (8009), a deadline (8013). */
export class NhiError extends Error {
  override readonly name = 'NhiError';
  constructor(
    readonly code: NhiCode,
    message: string = NHI_CODES[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The code of a failure some layer foresaw; undefined for any other error. */
export function knownCodeOf(err: unknown): NhiCode | undefined {
  if (err instanceof NhiError) return err.code;
  if (err instanceof CardError) return CARD_STEP_CODES[err.step];
  if (err instanceof NoCardError) return NO_CARD_CODES[err.reason];
  if (err instanceof PcscUnavailableError) return PCSC_UNAVAILABLE_CODE;
  if (err instanceof SamError) return SAM_STEP_CODES[err.step];
  return undefined;
}

/** What a failure nobody foresaw answers: a fault of ours. */
export const SERVICE_ERROR: NhiCode = '8201';

/** The code a page gets for any error. */
export function codeOf(err: unknown): NhiCode {
  return knownCodeOf(err) ?? SERVICE_ERROR;
}
