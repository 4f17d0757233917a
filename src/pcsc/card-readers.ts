import { EventEmitter } from 'node:events';
import { selectNhi } from '../card/operations.js';
import { NhiError } from '../card/errors.js';
import type { Transmit } from '../card/response.js';
import {
  type ContextListener,
  type OpenContext,
  type PcscContext,
  PcscUnavailableError,
  type ReaderPort,
  scardCodeOf,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
  SCARD_E_NO_SMARTCARD,
} from './port.js';
import { SerialQueue } from './serial-queue.js';

export interface ReaderStatus {
  name: string;
  cardPresent: boolean;
  /** Known once the card answered (or refused) SELECT of the NHI applet. */
  nhiCard?: boolean;
}

export interface PcscStatus {
  available: boolean;
  /** Why PC/SC cannot be used, with what to install; set when unavailable. */
  reason?: string;
  /** The PC/SC result code behind `reason`, when there is one (e.g. 0x8010006A: this user is not allowed). */
  code?: number;
  readers: ReaderStatus[];
}

export interface CardAccessOptions {
  /** Use only this reader (`--reader NAME`). */
  reader?: string;
  /** The APDUs the operation will send if all goes well (card/operations.ts plans): sent in one go where the binding can. */
  plan?: readonly Buffer[];
  /**
   * Aborted when the caller no longer wants the result (its page went away,
   * or its deadline passed): an operation not yet started never reaches the
   * card; one in progress stops before its next APDU and releases the card.
   * The promise then rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** What the protocol layer needs: one card, held for a whole operation. */
export interface CardAccess {
  withCard<T>(operation: (transmit: Transmit, reader: string) => Promise<T>, options?: CardAccessOptions): Promise<T>;
  status(): PcscStatus;
  close(): Promise<void>;
}

interface ReaderState {
  port: ReaderPort;
  present: boolean;
  connected: boolean;
  nhiCard?: boolean;
}

export interface CardReadersOptions {
  /** How long to wait for the first reader list and card states. */
  settleMs?: number;
  /** Delay before reopening a lost context. */
  reopenMs?: number;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

const ERR_RETRY = Symbol('retry');
/** A context younger than this has just listed the readers: no need to reopen. */
const FRESH_CONTEXT_MS = 1000;

/**
 * Follows readers and cards through a PC/SC context and hands one card at a
 * time to callers. Everything goes through one queue, so APDUs of concurrent
 * callers never interleave. The context is rebuilt when the service is lost or
 * a reader vanishes: pcsclite does not see a re-plugged reader on an old
 * context (upstream bug), and a fresh context does.
 */
export class CardReaders implements CardAccess {
  private readonly queue = new SerialQueue();
  private readonly readers = new Map<string, ReaderState>();
  private readonly events = new EventEmitter();
  private ctx: PcscContext | undefined;
  private unavailable: string | undefined;
  private unavailableCode: number | undefined;
  private listed = false;
  /** Readers whose first card state has not arrived yet. */
  private pendingStatus = new Set<string>();
  private reopenTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private openedAt = 0;
  private generation = 0;
  private readonly settleMs: number;
  private readonly reopenMs: number;

  constructor(
    private readonly open: OpenContext,
    private readonly options: CardReadersOptions = {},
  ) {
    this.settleMs = options.settleMs ?? 2000;
    this.reopenMs = options.reopenMs ?? 500;
    this.events.setMaxListeners(0);
  }

  /** Open the context now; on failure keep retrying in the background. */
  start(): this {
    this.tryOpen();
    return this;
  }

  status(): PcscStatus {
    return {
      available: this.ctx !== undefined,
      ...(this.unavailable !== undefined && this.ctx === undefined ? { reason: this.unavailable } : {}),
      ...(this.unavailableCode !== undefined && this.ctx === undefined ? { code: this.unavailableCode } : {}),
      readers: [...this.readers.entries()].map(([name, r]) => ({
        name,
        cardPresent: r.present,
        ...(r.nhiCard !== undefined ? { nhiCard: r.nhiCard } : {}),
      })),
    };
  }

  withCard<T>(operation: (transmit: Transmit, reader: string) => Promise<T>, options: CardAccessOptions = {}): Promise<T> {
    return this.queue.run(() => this.runOperation(operation, options));
  }

  /** Resolves when the reader list and every reader's card state are known. */
  async settled(timeoutMs = this.settleMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isSettled() && Date.now() < deadline) {
      await this.nextChange(deadline - Date.now());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    await this.queue.run(async () => {
      await this.dropContext();
    });
  }

  private async runOperation<T>(
    operation: (transmit: Transmit, reader: string) => Promise<T>,
    options: CardAccessOptions,
  ): Promise<T> {
    if (this.closed) throw new NhiError('7001', 'the card reader layer is shut down');
    if (!this.ctx) this.tryOpen();
    if (!this.ctx) throw new NhiError('7001', `PC/SC is unavailable: ${this.unavailable ?? 'unknown reason'}`);
    await this.settled();
    if (this.readers.size === 0 && Date.now() - this.openedAt > FRESH_CONTEXT_MS) {
      // A context that has seen pcscd restart or readers come and go may miss
      // readers that appeared since (pcsclite); a fresh one lists them all.
      await this.dropContext();
      this.tryOpen();
      if (!this.ctx) throw new NhiError('7001', `PC/SC is unavailable: ${this.unavailable ?? 'unknown reason'}`);
      await this.settled();
    }
    // One retry covers a card reset by another program or a reconnect after
    // the card was re-inserted; only an operation that has not yet reached the
    // card is repeated.
    for (let attempt = 0; ; attempt++) {
      const name = await this.chooseReader(options.reader);
      const state = this.readers.get(name)!;
      let sent = 0;
      let prefetched: Buffer[] = [];
      let next = 0;
      const transmit: Transmit = async (apdu) => {
        sent++;
        // Answers from the plan only while the operation follows it exactly.
        if (next < prefetched.length && apdu.equals(options.plan![next]!)) return prefetched[next++]!;
        next = prefetched.length;
        try {
          return await state.port.transmit(apdu);
        } catch (err) {
          throw this.transmitError(state, err, sent === 1 && attempt === 0);
        }
      };
      try {
        try {
          prefetched = await state.port.beginTransaction(options.plan);
        } catch (err) {
          throw this.transmitError(state, err, attempt === 0);
        }
        try {
          return await operation(transmit, name);
        } finally {
          if (state.connected) await state.port.endTransaction().catch(() => undefined);
        }
      } catch (err) {
        if (err === ERR_RETRY) continue;
        throw err;
      }
    }
  }

  private transmitError(state: ReaderState, err: unknown, mayRetry: boolean): unknown {
    state.connected = false;
    const code = scardCodeOf(err);
    if (mayRetry && code === SCARD_W_RESET_CARD) return ERR_RETRY;
    if (code === SCARD_W_REMOVED_CARD || code === SCARD_E_NO_SMARTCARD) {
      state.present = false;
      return new NhiError('8013', 'the card was removed', { cause: err });
    }
    return new NhiError('8013', `the card did not answer: ${(err as Error).message ?? String(err)}`, { cause: err });
  }

  /** The pinned reader, or the first whose card answers SELECT of the NHI applet. */
  private async chooseReader(pinned: string | undefined): Promise<string> {
    if (pinned !== undefined && !this.readers.has(pinned)) {
      throw new NhiError('8013', `reader "${pinned}" not found (readers: ${[...this.readers.keys()].join(', ') || 'none'})`);
    }
    const candidates = [...this.readers.entries()].filter(([name, r]) => r.present && (pinned === undefined || name === pinned));
    if (candidates.length === 0) {
      throw new NhiError('8013', this.readers.size === 0 ? 'no card reader found' : 'no card in the reader');
    }
    for (const [name, r] of candidates) {
      if (r.nhiCard === undefined || !r.connected) await this.probe(r);
      if (r.nhiCard) return name;
    }
    throw new NhiError('7004', 'the card in the reader is not an NHI card');
  }

  private async probe(r: ReaderState): Promise<void> {
    try {
      if (!r.connected) {
        // The binding may still think it is connected after a failed
        // transmit; without this its connect() would be a no-op.
        await r.port.disconnect().catch(() => undefined);
        await r.port.connect();
        r.connected = true;
      }
      await selectNhi(r.port.transmit.bind(r.port));
      r.nhiCard = true;
    } catch (err) {
      if (err instanceof NhiError && err.code === '7004') {
        r.nhiCard = false;
        return;
      }
      r.connected = false;
      const code = scardCodeOf(err);
      if (code === SCARD_W_RESET_CARD) {
        // Reset by another program: reconnecting once is enough.
        await r.port.disconnect().catch(() => undefined);
        await r.port.connect();
        r.connected = true;
        await selectNhi(r.port.transmit.bind(r.port));
        r.nhiCard = true;
        return;
      }
      throw new NhiError('8013', `cannot connect to the card: ${(err as Error).message ?? String(err)}`, { cause: err });
    }
  }

  private isSettled(): boolean {
    if (!this.ctx) return true;
    return this.listed && this.pendingStatus.size === 0;
  }

  private nextChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off('change', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.events.on('change', done);
    });
  }

  private changed(): void {
    this.events.emit('change');
  }

  private tryOpen(): void {
    if (this.ctx || this.closed) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    const pendingStatus = (this.pendingStatus = new Set<string>());
    const listener: ContextListener = {
      onReaderList: () => {
        if (!current()) return;
        this.listed = true;
        this.changed();
      },
      onReaderAdded: (port) => {
        if (!current()) return;
        pendingStatus.add(port.name);
        this.readers.set(port.name, { port, present: false, connected: false });
        this.options.log?.info({ reader: port.name }, 'reader added');
        this.changed();
      },
      onReaderRemoved: (name) => {
        if (!current()) return;
        this.readers.delete(name);
        pendingStatus.delete(name);
        this.options.log?.info({ reader: name }, 'reader removed');
        this.changed();
        this.scheduleReopen('a reader was removed');
      },
      onCardState: (name, present) => {
        if (!current()) return;
        const r = this.readers.get(name);
        if (!r) return;
        pendingStatus.delete(name);
        if (r.present !== present || !present) {
          if (r.present !== present) this.options.log?.info({ reader: name, cardPresent: present }, 'card state');
          r.present = present;
          r.nhiCard = undefined;
          if (r.connected) {
            r.connected = false;
            void r.port.disconnect().catch(() => undefined);
          }
        }
        this.changed();
      },
      onContextError: (err) => {
        if (!current()) return;
        this.options.log?.warn({ err: err.message }, 'PC/SC context lost');
        this.scheduleReopen(err.message);
      },
    };
    try {
      this.ctx = this.open(listener);
      this.openedAt = Date.now();
      this.unavailable = undefined;
      this.unavailableCode = undefined;
      this.listed = false;
    } catch (err) {
      this.unavailable = err instanceof PcscUnavailableError ? err.message : `PC/SC error: ${(err as Error).message}`;
      this.unavailableCode = err instanceof PcscUnavailableError ? err.code : scardCodeOf(err);
      this.scheduleReopen(this.unavailable);
    }
  }

  private scheduleReopen(reason: string): void {
    if (this.closed || this.reopenTimer) return;
    void this.dropContext().then(() => {
      if (this.ctx === undefined) this.unavailable ??= reason;
    });
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.tryOpen();
    }, this.reopenMs);
    this.reopenTimer.unref();
  }

  private async dropContext(): Promise<void> {
    const ctx = this.ctx;
    this.ctx = undefined;
    this.generation++;
    this.listed = false;
    const states = [...this.readers.values()];
    this.readers.clear();
    for (const r of states) if (r.connected) await r.port.disconnect().catch(() => undefined);
    ctx?.close();
    this.changed();
  }
}
