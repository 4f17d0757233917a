import { setTimeout as sleep } from 'node:timers/promises';
import type { CardAccess, CardAccessOptions } from '../../src/pcsc/card-readers.js';
import { NHI_CARD } from '../../src/card/operations.js';
import type { Transmit } from '../../src/card/response.js';
import { NoCardError } from '../../src/pcsc/errors.js';
import { VirtualCard } from '../bed/virtual-card.js';
import { loadProfile } from './profiles.js';

/**
 * A card layer in memory for unit tests: one FIFO queue like the real one,
 * the virtual card's APDU logic behind it, the NHI card's SELECT before each
 * operation (as the reader layer sends it), and the signal semantics the
 * card layer promises (CardAccessOptions.signal): an operation whose signal
 * aborted before its turn never reaches the card, one under way stops before
 * its next APDU; both reject with the signal's reason.
 */
export class FakeCard implements CardAccess {
  readonly card = new VirtualCard(loadProfile('chen'));
  /** Each APDU's time at the card. */
  apduMs = 5;
  /** Set to hold every APDU until it resolves, whatever the signal (a card stuck inside one exchange). */
  stuck: Promise<void> | undefined;
  /** Thrown by the next operation instead of running it. */
  failNext: unknown;
  /** Operations that reached the card; APDUs it answered. */
  started = 0;
  apdus = 0;
  /** Operations queued or running now, and the most there ever were. */
  pending = 0;
  maxPending = 0;
  /** The signal of every operation, in the order they were asked for. */
  readonly signals: Array<AbortSignal | undefined> = [];
  private queue: Promise<unknown> = Promise.resolve();

  withCard<T>(operation: (transmit: Transmit, reader: string) => Promise<T>, options: CardAccessOptions = {}): Promise<T> {
    const { signal } = options;
    this.signals.push(signal);
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    const run = this.queue.then(async () => {
      signal?.throwIfAborted();
      if (this.failNext !== undefined) {
        const err = this.failNext;
        this.failNext = undefined;
        throw err;
      }
      this.started++;
      const transmit = async (apdu: Buffer) => {
        signal?.throwIfAborted();
        this.apdus++;
        await sleep(this.apduMs);
        if (this.stuck) await this.stuck;
        return this.card.answer(apdu);
      };
      // As the reader layer does: a card that refuses SELECT is not the wanted one.
      if (!(await NHI_CARD.accepts(transmit))) throw new NoCardError('not-accepted', 'the card in the reader is not an NHI card');
      return operation(transmit, 'fake');
    });
    this.queue = run.then(
      () => this.pending--,
      () => this.pending--,
    );
    return run;
  }

  status() {
    return { available: true, readers: [{ name: 'fake', cardPresent: true, accepted: true }] };
  }

  async close(): Promise<void> {}
}
