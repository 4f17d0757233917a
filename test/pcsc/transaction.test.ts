import { spawn } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';
import { READ_BASIC_PROFILE } from '../../src/card/apdu.js';
import { NHI_CARD, readProfile, selectNhi } from '../../src/card/operations.js';
import { openCardReaders } from '../../src/pcsc/index.js';
import { MAX_HOLD_MS, TRANSACTION_LINGER_MS, transactionalPort } from '../../src/pcsc/transactional-port.js';
import { loadWinscard, type Winscard } from '../../src/pcsc/winscard.js';
import { startTestBed } from '../bed/testbed.js';
import { loadProfile } from '../helpers/profiles.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
const chen = loadProfile('chen');
const card = bed.card(chen);
await card.insert();
const readers = openCardReaders({ wanted: NHI_CARD });
t.teardown(() => readers.close());

/** Another program on the card (other-program.ts), connected and ready to send its APDU on `go()`. */
async function otherProgram(t: Test) {
  const other = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'other-program.ts'), bed.readerName(0)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => other.kill());
  let out = '';
  other.stdout.on('data', (c) => (out += c));
  const said = async (word: string) => {
    for (let i = 0; i < 200 && !out.includes(word); i++) await new Promise((r) => setTimeout(r, 25));
    t.match(out, word);
  };
  await said('connected');
  return { go: () => other.stdin.write('go\n'), done: () => said('done') };
}

t.test("another program's APDU waits until our multi-APDU operation is over", async (t) => {
  await readers.withCard(async () => undefined); // connect first
  const other = await otherProgram(t);
  card.log.length = 0;
  // The reader layer sends SELECT first, in the operation's transaction.
  await readers.withCard(async (tx) => {
    other.go();
    // Give the other program's APDU every chance to slip in.
    await new Promise((r) => setTimeout(r, 300));
    await tx(READ_BASIC_PROFILE);
  });
  await other.done();
  t.same(card.log, ['A404', 'CA11', '8400'], 'the other APDU came after our whole operation');
});

t.test('an operation queued right behind ours keeps the transaction; then the other program gets the card', async (t) => {
  await readers.withCard(async () => undefined);
  const other = await otherProgram(t);
  card.log.length = 0;
  const first = readers.withCard(async (tx) => {
    other.go();
    await new Promise((r) => setTimeout(r, 300)); // the other APDU now waits for the card
    await tx(READ_BASIC_PROFILE);
  });
  const second = readers.withCard(readProfile);
  await first;
  t.equal((await second).idNo, chen.idNo);
  await other.done();
  t.same(card.log, ['A404', 'CA11', 'A404', 'CA11', 'CA24', '8400'], 'the other APDU came after both operations');
});

t.test('through the real library: back-to-back operations share one transaction, ended after the linger', async (t) => {
  const real = loadWinscard();
  const calls: string[] = [];
  // Every call goes to the real library and pcscd; the wrapper only notes its name.
  const spy = new Proxy(real, {
    get: (target, key: keyof Winscard) => {
      const value = target[key];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(key));
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
  const ctx = await real.establishContext();
  t.teardown(() => real.releaseContext(ctx));
  const port = transactionalPort(spy, ctx, bed.readerName(0));
  t.teardown(() => port.disconnect());
  await port.connect();
  card.log.length = 0;
  for (let i = 0; i < 2; i++) {
    await port.beginTransaction();
    const transmit = (apdu: Buffer) => port.transmit(apdu);
    await selectNhi(transmit);
    await readProfile(transmit);
    await port.endTransaction();
  }
  await new Promise((r) => setTimeout(r, TRANSACTION_LINGER_MS * 3));
  t.same(calls, ['connect', 'beginTransaction', ...Array(6).fill('transmit'), 'endTransaction']);
  t.same(card.log, ['A404', 'CA11', 'CA24', 'A404', 'CA11', 'CA24']);
});

t.test('under constant load another program still gets the card, within about MAX_HOLD_MS', async (t) => {
  await readers.withCard(async () => undefined);
  const other = await otherProgram(t);
  let stop = false;
  let ours = 0;
  const load = (async () => {
    while (!stop) {
      await readers.withCard(readProfile);
      ours++;
    }
  })();
  await new Promise((r) => setTimeout(r, 300)); // the load is well under way
  const before = ours;
  const started = Date.now();
  other.go();
  await other.done();
  const waited = Date.now() - started;
  stop = true;
  await load;
  t.ok(ours - before > 10, `${ours - before} operations of ours while the other program waited`);
  t.ok(waited < MAX_HOLD_MS + 1500, `the other program waited ${waited} ms`);
});
