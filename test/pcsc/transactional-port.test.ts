// The transaction's life in the addon port, against a recording stand-in for
// the addon (the real one is exercised in transaction.test.ts).
import t from 'tap';
import { type CardAddon, TRANSACTION_LINGER_MS, transactionalPort } from '../../src/pcsc/transactional-port.js';

const APDU = Buffer.from('00A40400', 'hex');
const OK = Buffer.from('9000', 'hex');

function recordingAddon() {
  const calls: string[] = [];
  const conn = {};
  const addon: CardAddon = {
    connect: async () => (calls.push('connect'), conn),
    transmit: async () => (calls.push('transmit'), OK),
    beginTransaction: async (_c, plan) => (calls.push(`begin+${plan?.length ?? 0}`), (plan ?? []).map(() => OK)),
    transmitPlan: async (_c, plan) => (calls.push(`plan+${plan.length}`), plan.map(() => OK)),
    endTransaction: async () => void calls.push('end'),
    disconnect: async () => void calls.push('disconnect'),
  };
  return { addon, calls };
}

const lingerPassed = () => new Promise((r) => setTimeout(r, TRANSACTION_LINGER_MS * 3));

t.test('operations back to back share one transaction, which ends after the linger', async (t) => {
  const { addon, calls } = recordingAddon();
  const port = transactionalPort(addon, 'reader');
  await port.connect();
  t.same(await port.beginTransaction([APDU, APDU]), [OK, OK]);
  await port.endTransaction();
  t.same(await port.beginTransaction([APDU]), [OK], 'the plan is sent inside the transaction still held');
  t.same(await port.beginTransaction([]), [], 'an empty plan inside a held transaction costs no call');
  await port.endTransaction();
  t.same(calls, ['connect', 'begin+2', 'plan+1']);
  await lingerPassed();
  t.same(calls, ['connect', 'begin+2', 'plan+1', 'end']);
  await port.beginTransaction([APDU]);
  t.same(calls.slice(-1), ['begin+1'], 'a later operation begins a new transaction');
});

t.test('disconnecting ends a held transaction first, and once', async (t) => {
  const { addon, calls } = recordingAddon();
  const port = transactionalPort(addon, 'reader');
  await port.connect();
  await port.beginTransaction([APDU]);
  await port.endTransaction();
  await port.disconnect();
  await lingerPassed();
  t.same(calls, ['connect', 'begin+1', 'end', 'disconnect']);
});

t.test('a transaction that failed to begin is not held', async (t) => {
  const { addon, calls } = recordingAddon();
  addon.beginTransaction = async () => {
    calls.push('begin failed');
    throw new Error('SCardBeginTransaction failed (0x80100068)');
  };
  const port = transactionalPort(addon, 'reader');
  await port.connect();
  await t.rejects(port.beginTransaction([APDU]), /0x80100068/);
  await port.disconnect();
  t.same(calls, ['connect', 'begin failed', 'disconnect'], 'no end for a transaction never begun');
});
