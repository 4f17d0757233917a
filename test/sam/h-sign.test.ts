import t, { type Test } from 'tap';
import { NHI_CARD, readIdAndRandom } from '../../src/card/operations.js';
import { openCardReaders } from '../../src/pcsc/index.js';
import { hSign, type SamOptions } from '../../src/sam/h-sign.js';
import { startTestBed } from '../bed/testbed.js';
import { loadProfile } from '../helpers/profiles.js';
import type { CardProfileJson } from '../bed/virtual-card.js';
import { FakeSam } from './fake-sam.js';
import { codeOf, FAILURE_MODES, signValue as value } from './helpers.js';

/** hSign through real pcscd + vpcd with a virtual card, against the fake SAM. */

const chen = loadProfile('chen');
const lin = loadProfile('hkscs');
const idOf = (p: CardProfileJson) => p.cardId ?? p.cardNo;

const TIMEOUT = 500;
/** The card's own APDUs cost ~40 ms each on a bed without the quick-ACK route. */
const SLACK = 1000;

t.test('H_Sign through the real PC/SC stack', async (t) => {
  const bed = await startTestBed();
  const fake = await FakeSam.start({ cards: { [idOf(chen)]: chen.secret!, [idOf(lin)]: lin.secret! } });
  const readers = openCardReaders({ wanted: NHI_CARD });
  t.teardown(async () => {
    await readers.close();
    await fake.close();
    await bed.stop();
  });
  const card = bed.card(chen);
  await card.insert();
  const opts: SamOptions = { ...fake.endpoint, connectTimeoutMs: TIMEOUT, replyTimeoutMs: TIMEOUT };
  const cardStillWorks = async (t: Test) => {
    const { cardId } = await readers.withCard((tx) => readIdAndRandom(tx));
    t.equal(cardId.toString('latin1'), idOf(chen), 'the next card operation works (card not left held)');
  };

  t.test('signs: 256 chars the SAM vouches for', async (t) => {
    const v = value();
    const started = Date.now();
    const sig = await hSign(readers, v, opts);
    t.equal(sig.length, 256);
    t.ok(fake.verify(v, sig));
    t.same(fake.errors, [], 'the fake saw no protocol violation');
    t.comment(`hSign took ${Date.now() - started} ms`);
  });

  for (const [mode, code] of FAILURE_MODES) {
    t.test(`${mode} → ${code}`, async (t) => {
      fake.mode = mode;
      const started = Date.now();
      try {
        t.equal(await codeOf(hSign(readers, value(), opts)), code);
      } finally {
        fake.mode = 'ok';
      }
      const elapsed = Date.now() - started;
      t.ok(elapsed < TIMEOUT + SLACK, `within the reply timeout (${elapsed} ms)`);
      await cardStillWorks(t);
    });
  }

  t.test('card removed while the SAM prepares its challenge → 8013, no hang', async (t) => {
    fake.beforeChallenge = async () => {
      fake.beforeChallenge = undefined;
      await card.remove();
    };
    t.teardown(async () => {
      fake.beforeChallenge = undefined;
      if (!card.inserted) await card.insert();
    });
    const started = Date.now();
    t.equal(await codeOf(hSign(readers, value(), opts)), '8013');
    t.ok(Date.now() - started < TIMEOUT + SLACK, `${Date.now() - started} ms`);
    await card.insert();
    const v = value();
    t.ok(fake.verify(v, await hSign(readers, v, opts)), 'signs again once the card is back');
  });

  t.test('no card in the reader → 8013, no hang', async (t) => {
    await card.remove();
    t.teardown(() => card.insert());
    const started = Date.now();
    t.equal(await codeOf(hSign(readers, value(), opts)), '8013');
    t.ok(Date.now() - started < TIMEOUT + SLACK, `${Date.now() - started} ms`);
  });

  t.test('two at once: both signed, each for its own value', async (t) => {
    await cardStillWorks(t);
    const [a, b] = [value(), value()];
    const [sa, sb] = await Promise.all([hSign(readers, a, opts), hSign(readers, b, opts)]);
    t.ok(fake.verify(a, sa));
    t.ok(fake.verify(b, sb));
    t.not(sa, sb);
  });

  t.test('a bad value: error, and no connection reaches the SAM', async (t) => {
    const before = fake.connections;
    t.equal(await codeOf(hSign(readers, '0001123', opts)), '8008');
    t.equal(await codeOf(hSign(readers, `9999${'0'.repeat(16)}`, opts)), '8008');
    t.equal(fake.connections, before);
  });

  t.test('the card in another reader, chosen by name', async (t) => {
    const other = bed.card(lin, { slot: 1 });
    await other.insert();
    t.teardown(() => other.remove());
    const v = value();
    t.ok(fake.verify(v, await hSign(readers, v, { ...opts, reader: bed.readerName(1) })));
    await cardStillWorks(t);
  });
});

t.test('the SAM on a closed port → 4061', async (t) => {
  const bed = await startTestBed();
  const closed = await FakeSam.start({ cards: {}, mode: 'refuse' });
  const readers = openCardReaders({ wanted: NHI_CARD });
  t.teardown(async () => {
    await readers.close();
    await bed.stop();
  });
  const card = bed.card(chen);
  await card.insert();
  const started = Date.now();
  t.equal(await codeOf(hSign(readers, value(), { ...closed.endpoint, connectTimeoutMs: TIMEOUT, replyTimeoutMs: TIMEOUT })), '4061');
  t.ok(Date.now() - started < TIMEOUT, `${Date.now() - started} ms`);
  const { cardId } = await readers.withCard((tx) => readIdAndRandom(tx));
  t.equal(cardId.toString('latin1'), idOf(chen));
});
