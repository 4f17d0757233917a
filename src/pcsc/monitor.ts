import {
  PcscError,
  SCARD_E_CANCELLED,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_S_SUCCESS,
} from './errors.js';
import type { ContextListener, ReaderPort } from './port.js';
import {
  PNP_NOTIFICATION,
  type ReaderState,
  SCARD_STATE_CHANGED,
  SCARD_STATE_IGNORE,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
  SCARD_STATE_UNKNOWN,
  type ScardContext,
  type Winscard,
} from './winscard.js';

export interface MonitorTimings {
  /** How long one wait for a change may last; SCardCancel ends it sooner. */
  waitMs: number;
  /** Where the library cannot report readers coming and going (macOS): how often the list is read again. */
  relistMs: number;
  /** Where a wait returns at once with nothing changed (Wine): the pause before the next one. */
  idleMs: number;
}

export const MONITOR_TIMINGS: MonitorTimings = { waitMs: 60_000, relistMs: 2_000, idleMs: 250 };

/** The card-event counter pcsc-lite and Windows keep in the upper 16 bits of a reader's state. */
const eventCount = (state: number) => state >>> 16;
const isPresent = (state: number) => (state & SCARD_STATE_PRESENT) !== 0 && (state & SCARD_STATE_MUTE) === 0;
const newState = (reader: string): ReaderState => ({ reader, currentState: SCARD_STATE_UNAWARE, eventState: 0, atr: Buffer.alloc(0) });

/**
 * Follows readers and cards on a context of its own: SCardGetStatusChange
 * waits off the JS thread until something changes, so nothing here polls
 * while all is still. The special reader PNP_NOTIFICATION reports readers
 * that come and go; where the library does not know it (macOS), the list is
 * read again every relistMs.
 */
export class ReaderMonitor {
  private readonly readers = new Map<string, ReaderState>();
  private pnp: ReaderState | undefined = newState(PNP_NOTIFICATION);
  private stopping = false;
  private running: Promise<void> | undefined;
  private readonly wake = new AbortController();

  constructor(
    private readonly w: Winscard,
    private readonly ctx: ScardContext,
    private readonly listener: ContextListener,
    private readonly makePort: (reader: string) => ReaderPort,
    private readonly timings: MonitorTimings = MONITOR_TIMINGS,
  ) {}

  start(): void {
    this.running = this.run().catch((err: unknown) => {
      if (!this.stopping) this.listener.onContextError(err instanceof Error ? err : new Error(String(err)));
    });
  }

  /** Wakes a pending wait and returns once the loop is over. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    // A wait handed to the library just before the first cancel would not
    // see it (a cancel is not remembered): cancel until the loop is over.
    const cancel = () => void this.w.cancel(this.ctx).catch(() => undefined);
    cancel();
    const again = setInterval(cancel, 50);
    try {
      await this.running;
    } finally {
      clearInterval(again);
    }
  }

  private async run(): Promise<void> {
    await this.relist();
    while (!this.stopping) {
      const states = [...(this.pnp ? [this.pnp] : []), ...this.readers.values()];
      if (states.length === 0) {
        // No reader and no way to hear of one: look again later.
        await this.pause(this.timings.relistMs);
        await this.relist();
        continue;
      }
      const rv = await this.w.getStatusChange(this.ctx, this.pnp ? this.timings.waitMs : this.timings.relistMs, states);
      if (this.stopping) return;
      if (rv === SCARD_E_TIMEOUT || rv === SCARD_E_CANCELLED) {
        if (!this.pnp) await this.relist();
        continue;
      }
      if (rv === SCARD_E_UNKNOWN_READER || rv === SCARD_E_READER_UNAVAILABLE || rv === SCARD_E_NO_READERS_AVAILABLE) {
        await this.relist();
        continue;
      }
      if (rv !== SCARD_S_SUCCESS) throw new PcscError('SCardGetStatusChange', rv);
      const changed = this.absorb();
      if (changed === 'list') await this.relist();
      else if (changed === 'nothing') await this.pause(this.timings.idleMs);
    }
  }

  /** Takes in what the last wait reported; says what changed. */
  private absorb(): 'list' | 'cards' | 'nothing' {
    let relist = false;
    let changed = false;
    const pnp = this.pnp;
    if (pnp) {
      if (pnp.eventState & SCARD_STATE_UNKNOWN) {
        this.pnp = undefined; // this library does not know the PnP reader
        relist = true;
      } else if (pnp.eventState & SCARD_STATE_CHANGED && pnp.currentState !== SCARD_STATE_UNAWARE) {
        // (The first report only tells where the count stands: the list was just read.)
        relist = true;
      }
      pnp.currentState = pnp.eventState & ~SCARD_STATE_CHANGED;
    }
    for (const r of this.readers.values()) {
      const state = r.eventState & ~SCARD_STATE_CHANGED;
      if (state === r.currentState) continue;
      changed = true;
      const before = r.currentState;
      r.currentState = state;
      if (state & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) {
        relist = true;
        continue;
      }
      const present = isPresent(state);
      // Removed and inserted between two waits: the counter moved, the presence did not.
      if (present && isPresent(before) && eventCount(before) !== eventCount(state)) this.listener.onCardState(r.reader, false, undefined);
      this.listener.onCardState(r.reader, present, present ? r.atr : undefined);
    }
    if (relist) return 'list';
    return changed ? 'cards' : 'nothing';
  }

  /**
   * A pause that stop() cuts short. Its listener goes when it ends: under
   * Wine a pause follows every wait, four a second for as long as the
   * service runs.
   */
  private pause(ms: number): Promise<void> {
    const signal = this.wake.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async relist(): Promise<void> {
    const names = await this.w.listReaders(this.ctx);
    if (this.stopping) return;
    for (const name of [...this.readers.keys()]) {
      if (names.includes(name)) continue;
      this.readers.delete(name);
      this.listener.onReaderRemoved(name);
    }
    for (const name of names) {
      if (this.readers.has(name)) continue;
      this.readers.set(name, newState(name));
      this.listener.onReaderAdded(this.makePort(name));
    }
    this.listener.onReaderList(names);
  }
}

