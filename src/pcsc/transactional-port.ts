import { createRequire } from 'node:module';
import type { ReaderPort } from './port.js';

export type CardConnection = object;
export interface CardAddon {
  connect(reader: string): Promise<CardConnection>;
  transmit(conn: CardConnection, apdu: Buffer): Promise<Buffer>;
  beginTransaction(conn: CardConnection, plan?: readonly Buffer[]): Promise<Buffer[]>;
  /** The plan alone, inside a transaction already begun. */
  transmitPlan(conn: CardConnection, plan: readonly Buffer[]): Promise<Buffer[]>;
  endTransaction(conn: CardConnection): Promise<void>;
  disconnect(conn: CardConnection): Promise<void>;
}

let cardAddon: CardAddon | null | undefined;

/**
 * Our own addon (native/pcsc-card) carries the card I/O when it is built, for
 * the PC/SC transactions pcsclite lacks; without it, pcsclite does the I/O and
 * only this process's own queue keeps APDU sequences together.
 */
export function loadCardAddon(): CardAddon | null {
  if (cardAddon === undefined) {
    try {
      cardAddon = createRequire(import.meta.url)('nhiicc-pcsc-card') as CardAddon;
    } catch {
      cardAddon = null;
    }
  }
  return cardAddon;
}

/**
 * How long a finished operation keeps its transaction, waiting for the next
 * one. Pages send commands in bursts (and H_Sign is several operations), so
 * the operation right behind skips ending and beginning a transaction: two
 * round trips to pcscd, about a sixth of a GetBasic on a fast reader. Other
 * programs wait at most this much longer for the card.
 */
export const TRANSACTION_LINGER_MS = 10;

/**
 * Card I/O through our own addon, which has PC/SC transactions and sends a
 * plan of APDUs in one thread-pool job. The transaction ends only once no
 * operation followed within TRANSACTION_LINGER_MS, or on disconnect; each call
 * waits for that end, so calls on the connection never overlap.
 */
export function transactionalPort(addon: CardAddon, name: string): ReaderPort {
  let conn: CardConnection | undefined;
  let ending: Promise<void> = Promise.resolve();
  let held = false;
  let linger: NodeJS.Timeout | undefined;
  const open = async () => {
    await ending;
    if (!conn) throw new Error('SCardTransmit failed: not connected (0x80100003)');
    return conn;
  };
  const release = () => {
    clearTimeout(linger);
    if (!held || !conn) return;
    held = false;
    const c = conn;
    ending = ending.then(() => addon.endTransaction(c)).catch(() => undefined);
  };
  return {
    name,
    connect: async () => {
      await ending;
      conn ??= await addon.connect(name);
    },
    transmit: async (apdu) => addon.transmit(await open(), apdu),
    disconnect: async () => {
      release();
      await ending;
      const c = conn;
      conn = undefined;
      if (c) await addon.disconnect(c).catch(() => undefined);
    },
    beginTransaction: async (plan) => {
      clearTimeout(linger);
      const c = await open();
      if (held) return plan?.length ? addon.transmitPlan(c, plan) : [];
      const answers = await addon.beginTransaction(c, plan);
      held = true;
      return answers;
    },
    endTransaction: async () => {
      clearTimeout(linger);
      // Unreferenced: a process that exits drops its pcscd connection, and the transaction with it.
      linger = setTimeout(release, TRANSACTION_LINGER_MS).unref();
    },
  };
}
