import { spawn } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../../src/card/apdu.js';
import { READ_PROFILE_PLAN, readProfile } from '../../src/card/operations.js';
import { loadCardAddon, openCardReaders } from '../../src/pcsc/index.js';
import { type CardAddon, TRANSACTION_LINGER_MS, transactionalPort } from '../../src/pcsc/transactional-port.js';
import { startTestBed } from '../bed/testbed.js';
import { loadProfile } from '../helpers/profiles.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
const chen = loadProfile('chen');
const card = bed.card(chen);
await card.insert();
const readers = openCardReaders();
t.teardown(() => readers.close());

t.test('the card-connection addon with PC/SC transactions is built', async (t) => {
  t.ok(loadCardAddon(), 'native/pcsc-card loads (npm install builds it)');
});

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
  await readers.withCard(async (tx) => tx(SELECT_NHI)); // connect and probe first
  const other = await otherProgram(t);
  card.log.length = 0;
  await readers.withCard(async (tx) => {
    await tx(SELECT_NHI);
    other.go();
    // Give the other program's APDU every chance to slip in.
    await new Promise((r) => setTimeout(r, 300));
    await tx(READ_BASIC_PROFILE);
  });
  await other.done();
  t.same(card.log, ['A404', 'CA11', '8400'], 'the other APDU came after our whole operation');
});

t.test('an operation queued right behind ours keeps the transaction; then the other program gets the card', async (t) => {
  await readers.withCard(async (tx) => tx(SELECT_NHI));
  const other = await otherProgram(t);
  card.log.length = 0;
  const first = readers.withCard(async (tx) => {
    await tx(SELECT_NHI);
    other.go();
    await new Promise((r) => setTimeout(r, 300)); // the other APDU now waits for the card
    await tx(READ_BASIC_PROFILE);
  });
  const second = readers.withCard(readProfile, { plan: READ_PROFILE_PLAN });
  await first;
  t.equal((await second).idNo, chen.idNo);
  await other.done();
  t.same(card.log, ['A404', 'CA11', 'A404', 'CA11', 'CA24', '8400'], 'the other APDU came after both operations');
});

t.test('through the real addon: back-to-back operations share one transaction, ended after the linger', async (t) => {
  const addon = loadCardAddon()!;
  const calls: string[] = [];
  // Every call goes to the real addon; the wrapper only notes its name.
  const names = ['connect', 'transmit', 'beginTransaction', 'transmitPlan', 'endTransaction', 'disconnect'] as const;
  const spy = Object.fromEntries(
    names.map((name) => [name, (...args: unknown[]) => (calls.push(name), (addon[name] as (...a: unknown[]) => unknown)(...args))]),
  ) as unknown as CardAddon;
  const port = transactionalPort(spy, bed.readerName(0));
  t.teardown(() => port.disconnect());
  await port.connect();
  card.log.length = 0;
  for (let i = 0; i < 2; i++) {
    t.equal((await port.beginTransaction(READ_PROFILE_PLAN)).length, 3);
    await port.endTransaction();
  }
  await new Promise((r) => setTimeout(r, TRANSACTION_LINGER_MS * 3));
  t.same(calls, ['connect', 'beginTransaction', 'transmitPlan', 'endTransaction']);
  t.same(card.log, ['A404', 'CA11', 'CA24', 'A404', 'CA11', 'CA24']);
});

// A plan goes to the card in the same call as SCardBeginTransaction; the card's
// log shows what reached it, and how often.
t.test('planned APDUs reach the card once, and the operation gets their answers', async (t) => {
  await readers.withCard(async (tx) => tx(SELECT_NHI));
  await new Promise((r) => setTimeout(r, TRANSACTION_LINGER_MS * 3));
  // The second round runs while the first one's transaction is still held.
  for (const when of ['with SCardBeginTransaction', 'inside the transaction still held']) {
    card.log.length = 0;
    const profile = await readers.withCard(readProfile, { plan: READ_PROFILE_PLAN });
    t.equal(profile.idNo, chen.idNo, when);
    t.same(card.log, ['A404', 'CA11', 'CA24'], `no APDU sent twice, plan sent ${when}`);
  }
});

t.test('the plan is sent ahead: an operation that leaves it gets live answers', async (t) => {
  await new Promise((r) => setTimeout(r, TRANSACTION_LINGER_MS * 3));
  // The second round runs while the first one's transaction is still held.
  for (const when of ['with SCardBeginTransaction', 'inside the transaction still held']) {
    card.log.length = 0;
    const answer = await readers.withCard(
      async (tx) => {
        await tx(SELECT_NHI);
        return tx(READ_CARD_DATA);
      },
      { plan: READ_PROFILE_PLAN },
    );
    t.equal(answer.subarray(-2).toString('hex'), '9000');
    t.equal(answer.subarray(0, 1).toString('latin1'), chen.mark);
    t.same(card.log, ['A404', 'CA11', 'CA24', 'CA24'], `the whole plan (${when}), then the live READ CARD DATA`);
  }
});

t.test('the plan stops at the first answer that is not 9000', async (t) => {
  card.failures.set('00CA11', 0x6982);
  t.teardown(() => card.failures.clear());
  card.log.length = 0;
  await t.rejects(readers.withCard(readProfile, { plan: READ_PROFILE_PLAN }), { code: '8011' });
  t.same(card.log, ['A404', 'CA11'], 'READ CARD DATA never sent');
});

t.test('a T=0 card answering 61xx: the plan stops there and GET RESPONSE goes live', async (t) => {
  card.t0Style = '61';
  t.teardown(() => {
    card.t0Style = undefined;
  });
  card.log.length = 0;
  const profile = await readers.withCard(readProfile, { plan: READ_PROFILE_PLAN });
  t.equal(profile.name, chen.name);
  t.same(card.log, ['A404', 'CA11', 'C000', 'CA24', 'C000']);
});
