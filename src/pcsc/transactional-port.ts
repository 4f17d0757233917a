import type { ReaderPort } from './port.js';
import type { ScardContext, ScardHandle, Winscard } from './winscard.js';

/**
 * How long a finished operation keeps its transaction, waiting for the next
 * one. Pages send commands in bursts (and H_Sign is several operations), so
 * the operation right behind skips ending and beginning a transaction: two
 * round trips to the PC/SC service. Other programs wait at most this much
 * longer for the card.
 */
export const TRANSACTION_LINGER_MS = 10;

/**
 * Chained by the linger, our transactions could keep the card from other
 * programs for as long as pages keep sending. After holding it this long we
 * let go for YIELD_MS: pcscd lets a program waiting for the card check again
 * only every 100 ms, so a shorter gap would mostly go unseen.
 */
export const MAX_HOLD_MS = 1000;
export const YIELD_MS = 150;

export interface PortClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PortClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * One reader's card connection, through the OS's PC/SC library. The
 * transaction ends once no operation followed within TRANSACTION_LINGER_MS,
 * after MAX_HOLD_MS of holding it, or on disconnect; every call waits for a
 * pending end, so calls on the connection never overlap.
 */
export function transactionalPort(w: Winscard, ctx: ScardContext, name: string, clock: PortClock = realClock): ReaderPort {
  let conn: { handle: ScardHandle; protocol: number } | undefined;
  let ending: Promise<void> = Promise.resolve();
  let held = false;
  let heldSince = 0;
  let yieldUntil = 0;
  let linger: NodeJS.Timeout | undefined;
  const open = async () => {
    await ending;
    // Not a PC/SC code: an invalid handle from the library means the service went away.
    if (!conn) throw new Error(`not connected to the card in ${name}`);
    return conn;
  };
  const release = () => {
    clearTimeout(linger);
    if (!held || !conn) return;
    held = false;
    const { handle } = conn;
    ending = ending.then(() => w.endTransaction(handle)).catch(() => undefined);
  };
  return {
    name,
    connect: async () => {
      await ending;
      conn ??= await w.connect(ctx, name);
    },
    transmit: async (apdu) => {
      const c = await open();
      return w.transmit(c.handle, c.protocol, apdu);
    },
    disconnect: async () => {
      release();
      await ending;
      const c = conn;
      conn = undefined;
      if (c) await w.disconnect(c.handle).catch(() => undefined);
    },
    beginTransaction: async () => {
      clearTimeout(linger);
      if (held) {
        await open();
        return;
      }
      const wait = yieldUntil - clock.now();
      if (wait > 0) await clock.sleep(wait);
      const c = await open();
      await w.beginTransaction(c.handle);
      held = true;
      heldSince = clock.now();
    },
    endTransaction: async () => {
      clearTimeout(linger);
      if (held && clock.now() - heldSince >= MAX_HOLD_MS) {
        yieldUntil = clock.now() + YIELD_MS;
        release();
        return;
      }
      // Unreferenced: a process that exits drops its PC/SC connection, and the transaction with it.
      linger = setTimeout(release, TRANSACTION_LINGER_MS).unref();
    },
  };
}
