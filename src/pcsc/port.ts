/**
 * Our own small view of a PC/SC binding. The reader layer above talks only to
 * this, so another binding (or a platform API) can replace `pcsclite` by
 * implementing `OpenContext` without touching anything above.
 */

export interface ReaderPort {
  readonly name: string;
  /** Connect in shared mode, T=0 or T=1. */
  connect(): Promise<void>;
  /** One APDU; the answer includes SW1 SW2. */
  transmit(apdu: Buffer): Promise<Buffer>;
  /** Leave the card powered: other programs may share it. */
  disconnect(): Promise<void>;
  /**
   * Keep other programs off the card until `endTransaction` (no-op where the
   * binding cannot), and send the planned APDUs up to the first answer that
   * is not 9000 or fails, in the same call. Returns their answers, in order;
   * bindings that cannot batch return none.
   */
  beginTransaction(plan?: readonly Buffer[]): Promise<Buffer[]>;
  /**
   * The operation is over. The binding may keep the transaction a few
   * milliseconds for an operation right behind; `disconnect` always ends it.
   */
  endTransaction(): Promise<void>;
}

export interface ContextListener {
  /** The binding delivered a complete reader list (after adds and removes). */
  onReaderList(names: string[]): void;
  onReaderAdded(port: ReaderPort): void;
  onReaderRemoved(name: string): void;
  onCardState(name: string, present: boolean, atr: Buffer | undefined): void;
  /** The context is lost, e.g. the PC/SC service stopped. */
  onContextError(err: Error): void;
}

export interface PcscContext {
  close(): void;
}

/** Opening fails with this when PC/SC cannot be used at all (code 7001). */
export class PcscUnavailableError extends Error {
  override readonly name = 'PcscUnavailableError';
  constructor(
    message: string,
    /** The PC/SC result code behind it, when a call failed (e.g. SCARD_W_SECURITY_VIOLATION). */
    readonly code?: number,
  ) {
    super(message);
  }
}

export type OpenContext = (listener: ContextListener) => PcscContext;

/** PC/SC result codes we act on; bindings put them in their error messages. */
export const SCARD_W_RESET_CARD = 0x80100068;
export const SCARD_W_REMOVED_CARD = 0x80100069;
export const SCARD_E_NO_SMARTCARD = 0x8010000c;
export const SCARD_E_NO_SERVICE = 0x8010001d;
export const SCARD_E_SERVICE_STOPPED = 0x8010001e;
/** pcscd refused this user (polkit on Debian 13 and Fedora). */
export const SCARD_W_SECURITY_VIOLATION = 0x8010006a;

export function scardCodeOf(err: unknown): number | undefined {
  const m = /0x([0-9a-f]{8})/i.exec(String((err as Error)?.message ?? err));
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}
