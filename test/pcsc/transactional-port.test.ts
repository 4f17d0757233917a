// The transaction's life in the port, against a recording stand-in for the
// PC/SC library (the real one is exercised in transaction.test.ts).
import t from 'tap';
import { PcscError, SCARD_W_RESET_CARD } from '../../src/pcsc/errors.js';
import { MAX_HOLD_MS, type PortClock, TRANSACTION_LINGER_MS, transactionalPort, YIELD_MS } from '../../src/pcsc/transactional-port.js';
import type { Winscard } from '../../src/pcsc/winscard.js';

const APDU = Buffer.from('00A40400', 'hex');
const OK = Buffer.from('9000', 'hex');

function recordingLibrary() {
  const calls: string[] = [];
  const w = {
    connect: async () => {
      calls.push('connect');
      return { handle: 7, protocol: 2 };
    },
    transmit: async () => {
      calls.push('transmit');
      return OK;
    },
    beginTransaction: async () => void calls.push('begin'),
    endTransaction: async () => void calls.push('end'),
    disconnect: async () => void calls.push('disconnect'),
  } as unknown as Winscard;
  return { w, calls };
}

/** A clock the test moves by hand; sleeps are recorded and pass at once. */
function manualClock() {
  const sleeps: number[] = [];
  const clock: PortClock & { at: number; sleeps: number[] } = {
    at: 0,
    sleeps,
    now: () => clock.at,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.at += ms;
    },
  };
  return clock;
}

const lingerPassed = () => new Promise((r) => setTimeout(r, TRANSACTION_LINGER_MS * 3));

t.test('operations back to back share one transaction, which ends after the linger', async (t) => {
  const { w, calls } = recordingLibrary();
  const port = transactionalPort(w, 1, 'reader');
  await port.connect();
  await port.beginTransaction();
  await port.transmit(APDU);
  await port.endTransaction();
  await port.beginTransaction();
  await port.transmit(APDU);
  await port.endTransaction();
  t.same(calls, ['connect', 'begin', 'transmit', 'transmit'], 'the second operation ran inside the transaction still held');
  await lingerPassed();
  t.same(calls.slice(-1), ['end']);
  await port.beginTransaction();
  t.same(calls.slice(-1), ['begin'], 'a later operation begins a new transaction');
});

t.test('disconnecting ends a held transaction first, and once', async (t) => {
  const { w, calls } = recordingLibrary();
  const port = transactionalPort(w, 1, 'reader');
  await port.connect();
  await port.beginTransaction();
  await port.endTransaction();
  await port.disconnect();
  await lingerPassed();
  t.same(calls, ['connect', 'begin', 'end', 'disconnect']);
});

t.test('a transaction that failed to begin is not held', async (t) => {
  const { w, calls } = recordingLibrary();
  w.beginTransaction = async () => {
    calls.push('begin failed');
    throw new PcscError('SCardBeginTransaction', SCARD_W_RESET_CARD);
  };
  const port = transactionalPort(w, 1, 'reader');
  await port.connect();
  await t.rejects(port.beginTransaction(), { code: SCARD_W_RESET_CARD });
  await port.disconnect();
  t.same(calls, ['connect', 'begin failed', 'disconnect'], 'no end for a transaction never begun');
});

t.test('transmit without a connection fails plainly, not as a lost service', async (t) => {
  const { w } = recordingLibrary();
  const port = transactionalPort(w, 1, 'reader');
  await t.rejects(port.transmit(APDU), { message: 'not connected to the card in reader' });
});

t.test('after holding the card MAX_HOLD_MS, the port lets go for YIELD_MS so that other programs get it', async (t) => {
  const { w, calls } = recordingLibrary();
  const clock = manualClock();
  const port = transactionalPort(w, 1, 'reader', clock);
  await port.connect();
  // Operations back to back, each 100 ms, chained by the linger.
  let ops = 0;
  while (clock.at < MAX_HOLD_MS) {
    await port.beginTransaction();
    clock.at += 100;
    await port.endTransaction();
    ops++;
  }
  t.same(calls.filter((c) => c === 'begin' || c === 'end'), ['begin', 'end'], `${ops} operations in one transaction, ended at once after the last`);
  await port.beginTransaction();
  t.same(clock.sleeps, [YIELD_MS], 'the next operation waits out the yield');
  t.same(calls.slice(-2), ['end', 'begin']);
  await port.endTransaction();
  await port.beginTransaction();
  t.same(clock.sleeps, [YIELD_MS], 'a fresh transaction lingers again as usual');
});
