/**
 * Our own view of a PC/SC binding. The reader layer above talks only to
 * this, so the binding (winscard.ts over koffi, or a fake in unit tests) can
 * change without touching anything above.
 */

export interface ReaderPort {
  readonly name: string;
  /** Connect in shared mode, T=0 or T=1. */
  connect(): Promise<void>;
  /** One APDU; the answer includes SW1 SW2. */
  transmit(apdu: Buffer): Promise<Buffer>;
  /** Leave the card powered: other programs may share it. */
  disconnect(): Promise<void>;
  /** Keep other programs off the card until `endTransaction`. */
  beginTransaction(): Promise<void>;
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
  close(): Promise<void>;
}

/** Opens a context and starts following readers; rejects with PcscUnavailableError when PC/SC cannot be used. */
export type OpenContext = (listener: ContextListener) => Promise<PcscContext>;

export * from './errors.js';
