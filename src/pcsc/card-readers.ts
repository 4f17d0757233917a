import { EventEmitter } from 'node:events';
import type { Transmit } from '../card/response.js';
import {
  NoCardError,
  PcscUnavailableError,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_SERVICE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_SERVICE_STOPPED,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
  scardCodeOf,
} from './errors.js';
import type { ContextListener, OpenContext, PcscContext, ReaderPort } from './port.js';
import { SerialQueue } from './serial-queue.js';

export interface ReaderStatus {
  name: string;
  cardPresent: boolean;
  /** Known once the card was asked: whether it is the card the caller wants (CardReadersOptions.wanted). */
  accepted?: boolean;
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
  /**
   * Aborted when the caller no longer wants the result (its page went away,
   * or its deadline passed): an operation not yet started never reaches the
   * card and rejects at once with the signal's reason; one in progress stops
   * before its next APDU (rejecting with the reason), releases the card, or
   * ends with its own error if that comes first.
   */
  signal?: AbortSignal;
}

export type CardOperation<T> = (transmit: Transmit, reader: string) => Promise<T>;

/** What the protocol layer needs: one card, held for a whole operation. */
export interface CardAccess {
  withCard<T>(operation: CardOperation<T>, options?: CardAccessOptions): Promise<T>;
  status(): PcscStatus;
  close(): Promise<void>;
}

interface ReaderState {
  port: ReaderPort;
  present: boolean;
  connected: boolean;
  accepted?: boolean;
}

/**
 * Which card the caller wants, decided above this layer (the NHI card:
 * card/operations.ts NHI_CARD, a card that accepts SELECT of the NHI
 * applet; docs/protocol.md §3 and §3.6).
 */
export interface WantedCard {
  /** What errors call it: "an NHI card". */
  readonly name: string;
  /**
   * Whether the card is one. Asked at the start of every operation, inside
   * its transaction, before the operation gets the card: what it leaves on
   * the card (the NHI applet selected) holds for the operation.
   */
  accepts(transmit: Transmit): Promise<boolean>;
}

export interface CardReadersOptions {
  wanted: WantedCard;
  /** How long to wait for the first reader list and card states. */
  settleMs?: number;
  /** First delay before opening PC/SC again after it failed or was lost; it doubles up to maxReopenMs. */
  reopenMs?: number;
  maxReopenMs?: number;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

const ERR_RETRY = Symbol('retry');
/** Codes that say the service (not the card) is gone: the context is rebuilt. */
const SERVICE_GONE = new Set([SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED, SCARD_E_INVALID_HANDLE]);

/**
 * Follows readers and cards through a PC/SC context and hands one card at a
 * time to callers. Everything goes through one queue, so APDUs of concurrent
 * callers never interleave. When PC/SC cannot be opened or is lost, it is
 * opened again in the background, at growing intervals, and the cause is
 * logged once.
 */
export class CardReaders implements CardAccess {
  private readonly queue = new SerialQueue();
  private readonly readers = new Map<string, ReaderState>();
  private readonly events = new EventEmitter();
  private ctx: PcscContext | undefined;
  private opening: Promise<void> | undefined;
  private unavailable: PcscUnavailableError | undefined;
  private listed = false;
  /** Readers whose first card state has not arrived yet. */
  private pendingStatus = new Set<string>();
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenDelay: number;
  private closed = false;
  private generation = 0;
  private readonly settleMs: number;
  private readonly reopenMs: number;
  private readonly maxReopenMs: number;

  constructor(
    private readonly open: OpenContext,
    private readonly options: CardReadersOptions,
  ) {
    this.settleMs = options.settleMs ?? 2000;
    this.reopenMs = options.reopenMs ?? 1000;
    this.maxReopenMs = options.maxReopenMs ?? 5000;
    this.reopenDelay = this.reopenMs;
    this.events.setMaxListeners(0);
  }

  /** Open the context now; on failure keep retrying in the background. */
  start(): this {
    void this.tryOpen();
    return this;
  }

  status(): PcscStatus {
    const down = this.ctx === undefined ? this.unavailable : undefined;
    return {
      available: this.ctx !== undefined,
      ...(down ? { reason: down.message } : {}),
      ...(down?.code !== undefined ? { code: down.code } : {}),
      readers: [...this.readers.entries()].map(([name, r]) => ({
        name,
        cardPresent: r.present,
        ...(r.accepted !== undefined ? { accepted: r.accepted } : {}),
      })),
    };
  }

  withCard<T>(operation: CardOperation<T>, options: CardAccessOptions = {}): Promise<T> {
    const { signal } = options;
    let started = false;
    const queued = this.queue.run(() => {
      started = true;
      return this.runOperation(operation, options);
    });
    if (!signal) return queued;
    // Aborted while waiting for its turn, it is answered at once (and never
    // reaches the card when its turn comes). Once started, it stops by itself
    // before its next APDU, and its own error (a SAM step's code, say) is the
    // one the caller gets.
    queued.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (!started) reject(signal.reason);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      queued.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Resolves when the reader list and every reader's card state are known. */
  async settled(timeoutMs = this.settleMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.opening;
    while (!this.isSettled() && Date.now() < deadline) {
      await this.nextChange(deadline - Date.now());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    await this.opening;
    await this.queue.run(() => this.dropContext());
  }

  private async runOperation<T>(operation: CardOperation<T>, options: CardAccessOptions): Promise<T> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.closed) throw new PcscUnavailableError('the card reader layer is shut down');
    if (!this.ctx) await this.tryOpen();
    if (!this.ctx) throw new PcscUnavailableError(`PC/SC is unavailable: ${this.unavailable?.message ?? 'unknown reason'}`, this.unavailable?.code, { cause: this.unavailable });
    await this.settled();
    signal?.throwIfAborted();
    // One retry covers a card reset by another program or a reconnect after
    // the card was re-inserted; only an operation that has not yet reached the
    // card is repeated.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.onWantedCard(operation, options, attempt === 0);
      } catch (err) {
        if (err === ERR_RETRY) continue;
        throw err;
      }
    }
  }

  /**
   * Runs `operation` on the first card, in the pinned reader or any, that
   * the wanted card's check accepts, in one transaction with that check. A
   * card the check refused is not asked again until it is taken out; when no
   * card is accepted the failure is `not-accepted` (docs/protocol.md §3.6).
   */
  private async onWantedCard<T>(operation: CardOperation<T>, options: CardAccessOptions, firstAttempt: boolean): Promise<T> {
    const { signal } = options;
    const { wanted } = this.options;
    for (const [name, state] of this.candidates(options.reader)) {
      if (state.accepted === false) continue;
      let sent = 0;
      const transmit: Transmit = async (apdu) => {
        signal?.throwIfAborted();
        sent++;
        try {
          return await state.port.transmit(apdu);
        } catch (err) {
          throw this.transmitError(state, err, sent === 1 && firstAttempt);
        }
      };
      if (!state.connected) await this.connect(state);
      try {
        await state.port.beginTransaction();
      } catch (err) {
        throw this.transmitError(state, err, firstAttempt);
      }
      try {
        state.accepted = await wanted.accepts(transmit);
        if (state.accepted) return await operation(transmit, name);
      } finally {
        if (state.connected) await state.port.endTransaction().catch(() => undefined);
      }
    }
    throw new NoCardError('not-accepted', `the card in the reader is not ${wanted.name}`);
  }

  private transmitError(state: ReaderState, err: unknown, mayRetry: boolean): unknown {
    state.connected = false;
    const code = scardCodeOf(err);
    if (mayRetry && code === SCARD_W_RESET_CARD) return ERR_RETRY;
    if (code === SCARD_W_REMOVED_CARD || code === SCARD_E_NO_SMARTCARD) {
      state.present = false;
      return new NoCardError('removed', 'the card was removed', { cause: err });
    }
    if (code !== undefined && SERVICE_GONE.has(code)) {
      this.scheduleReopen();
      return new PcscUnavailableError(`the PC/SC service went away: ${(err as Error).message}`, code, { cause: err });
    }
    return new NoCardError('unresponsive', `the card did not answer: ${(err as Error).message ?? String(err)}`, { cause: err });
  }

  /** The readers with a card in them: the pinned one, or all. */
  private candidates(pinned: string | undefined): Array<[string, ReaderState]> {
    if (pinned !== undefined && !this.readers.has(pinned)) {
      throw new NoCardError('unknown-reader', `reader "${pinned}" not found (readers: ${[...this.readers.keys()].join(', ') || 'none'})`);
    }
    const candidates = [...this.readers.entries()].filter(([name, r]) => r.present && (pinned === undefined || name === pinned));
    if (candidates.length === 0) {
      throw this.readers.size === 0 ? new NoCardError('no-reader', 'no card reader found') : new NoCardError('no-card', 'no card in the reader');
    }
    return candidates;
  }

  private async connect(r: ReaderState): Promise<void> {
    try {
      await r.port.disconnect().catch(() => undefined);
      await r.port.connect();
      r.connected = true;
    } catch (err) {
      throw new NoCardError('unresponsive', `cannot connect to the card: ${(err as Error).message ?? String(err)}`, { cause: err });
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

  /** Opens a context unless one is open or opening; never rejects. */
  private tryOpen(): Promise<void> {
    if (this.ctx || this.closed) return Promise.resolve();
    this.opening ??= this.openContext().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openContext(): Promise<void> {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    const pendingStatus = new Set<string>();
    this.pendingStatus = pendingStatus;
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
        const r = this.readers.get(name);
        this.readers.delete(name);
        pendingStatus.delete(name);
        if (r?.connected) void r.port.disconnect().catch(() => undefined);
        this.options.log?.info({ reader: name }, 'reader removed');
        this.changed();
      },
      onCardState: (name, present) => {
        if (!current()) return;
        const r = this.readers.get(name);
        if (!r) return;
        pendingStatus.delete(name);
        if (r.present !== present || !present) {
          if (r.present !== present) this.options.log?.info({ reader: name, cardPresent: present }, 'card state');
          r.present = present;
          r.accepted = undefined;
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
        this.scheduleReopen();
      },
    };
    this.listed = false;
    try {
      const ctx = await this.open(listener);
      if (this.closed || !current()) {
        await ctx.close();
        return;
      }
      this.ctx = ctx;
      if (this.unavailable) this.options.log?.info({}, 'PC/SC is available again');
      this.unavailable = undefined;
      this.reopenDelay = this.reopenMs;
    } catch (err) {
      const why = err instanceof PcscUnavailableError ? err : new PcscUnavailableError(`PC/SC error: ${(err as Error)?.message ?? String(err)}`, scardCodeOf(err), { cause: err });
      // Said once per cause: a service that stays away must not fill the log.
      if (why.message !== this.unavailable?.message) {
        this.options.log?.warn({ reason: why.message, ...(why.code !== undefined ? { code: why.code } : {}) }, 'cannot read cards until PC/SC works (card operations fail meanwhile); retrying in the background');
      }
      this.unavailable = why;
      this.scheduleReopen();
    }
  }

  /** Drops the context and opens a new one after the current delay, which then grows. */
  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer) return;
    void this.dropContext();
    const delay = this.reopenDelay;
    this.reopenDelay = Math.min(this.reopenDelay * 2, this.maxReopenMs);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.tryOpen();
    }, delay);
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
    await ctx?.close().catch(() => undefined);
    this.changed();
  }
}
