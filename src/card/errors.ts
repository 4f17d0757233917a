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

/** An error that carries the NHIICC code a page will be answered with. */
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

/** The NHIICC code for any error; unexpected failures are a service error. */
export function codeOf(err: unknown): NhiCode {
  return err instanceof NhiError ? err.code : '8201';
}
