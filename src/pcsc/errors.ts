/**
 * PC/SC result codes and the errors that carry them. The card layer acts on
 * the numeric code a call returned, never on message text.
 */

export const SCARD_S_SUCCESS = 0;
export const SCARD_E_CANCELLED = 0x80100002;
export const SCARD_E_INVALID_HANDLE = 0x80100003;
export const SCARD_E_INSUFFICIENT_BUFFER = 0x80100008;
export const SCARD_E_UNKNOWN_READER = 0x80100009;
export const SCARD_E_TIMEOUT = 0x8010000a;
export const SCARD_E_SHARING_VIOLATION = 0x8010000b;
export const SCARD_E_NO_SMARTCARD = 0x8010000c;
export const SCARD_E_NOT_TRANSACTED = 0x80100016;
export const SCARD_E_READER_UNAVAILABLE = 0x80100017;
export const SCARD_E_NO_SERVICE = 0x8010001d;
export const SCARD_E_SERVICE_STOPPED = 0x8010001e;
export const SCARD_E_NO_READERS_AVAILABLE = 0x8010002e;
export const SCARD_W_UNRESPONSIVE_CARD = 0x80100066;
export const SCARD_W_UNPOWERED_CARD = 0x80100067;
export const SCARD_W_RESET_CARD = 0x80100068;
export const SCARD_W_REMOVED_CARD = 0x80100069;
/** pcscd refused this user (polkit on Debian 13 and Fedora). */
export const SCARD_W_SECURITY_VIOLATION = 0x8010006a;

const NAMES: Record<number, string> = {
  [SCARD_E_CANCELLED]: 'cancelled',
  [SCARD_E_INVALID_HANDLE]: 'invalid handle',
  [SCARD_E_INSUFFICIENT_BUFFER]: 'buffer too small',
  [SCARD_E_UNKNOWN_READER]: 'unknown reader',
  [SCARD_E_TIMEOUT]: 'timed out',
  [SCARD_E_SHARING_VIOLATION]: 'the card is in use by another program',
  [SCARD_E_NO_SMARTCARD]: 'no card in the reader',
  [SCARD_E_NOT_TRANSACTED]: 'transaction failed',
  [SCARD_E_READER_UNAVAILABLE]: 'reader unavailable',
  [SCARD_E_NO_SERVICE]: 'the PC/SC service is not running',
  [SCARD_E_SERVICE_STOPPED]: 'the PC/SC service stopped',
  [SCARD_E_NO_READERS_AVAILABLE]: 'no reader',
  [SCARD_W_UNRESPONSIVE_CARD]: 'the card does not answer',
  [SCARD_W_UNPOWERED_CARD]: 'the card is not powered',
  [SCARD_W_RESET_CARD]: 'the card was reset',
  [SCARD_W_REMOVED_CARD]: 'the card was removed',
  [SCARD_W_SECURITY_VIOLATION]: 'access denied',
};

export const hex = (code: number) => `0x${code.toString(16).toUpperCase().padStart(8, '0')}`;

/** A PC/SC call returned `code`. */
export class PcscError extends Error {
  override readonly name = 'PcscError';
  constructor(
    readonly call: string,
    readonly code: number,
  ) {
    super(`${call}: ${NAMES[code] ?? 'PC/SC error'} (${hex(code)})`);
  }
}

/** PC/SC cannot be used at all (no library, no service, not allowed, or the reader layer shut down). */
export class PcscUnavailableError extends Error {
  override readonly name = 'PcscUnavailableError';
  constructor(
    message: string,
    /** The PC/SC result code behind it, when a call failed (e.g. SCARD_W_SECURITY_VIOLATION). */
    readonly code?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Why no card could be used though PC/SC works: no reader, the pinned
 * reader missing, no card, the card removed or silent, or cards present but
 * none of them the wanted one (`not-accepted`; docs/protocol.md §3.6).
 */
export type NoCardReason = 'no-reader' | 'unknown-reader' | 'no-card' | 'removed' | 'unresponsive' | 'not-accepted';

/** No card could be used for an operation (see NoCardReason). */
export class NoCardError extends Error {
  override readonly name = 'NoCardError';
  constructor(
    readonly reason: NoCardReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function scardCodeOf(err: unknown): number | undefined {
  return err instanceof PcscError || err instanceof PcscUnavailableError ? err.code : undefined;
}
