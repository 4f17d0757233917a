import t from 'tap';
import { type CardProfile, NHI_CARD, readProfile } from '../../src/card/operations.js';
import { NoCardError, PcscUnavailableError } from '../../src/pcsc/errors.js';
import { openCardReaders } from '../../src/pcsc/index.js';
import { startTestBed } from '../bed/testbed.js';
import { loadProfile } from '../helpers/profiles.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
const chen = loadProfile('chen');
const card = bed.card(chen);
await card.insert();
const readers = openCardReaders({ wanted: NHI_CARD, reopenMs: 200 });
t.teardown(() => readers.close());

t.test('the first read after insertion: one SELECT, then the reads', async (t) => {
  card.log.length = 0;
  t.match(await readers.withCard((tx) => readProfile(tx)), { cardNo: chen.cardNo });
  t.same(card.log, ['A404', 'CA11', 'CA24']);
});

t.test('20 concurrent reads from one process: all right, APDUs never interleaved', async (t) => {
  card.log.length = 0;
  const results = await Promise.all(Array.from({ length: 20 }, () => readers.withCard((tx) => readProfile(tx))));
  for (const p of results) t.match(p, { cardNo: chen.cardNo, idNo: chen.idNo, name: chen.name, mark: chen.mark });
  t.equal(card.log.length, 60);
  for (let i = 0; i < card.log.length; i += 3) {
    t.same(card.log.slice(i, i + 3), ['A404', 'CA11', 'CA24'], `read ${i / 3} in one piece`);
  }
});

t.test('a slow card still serializes concurrent callers', async (t) => {
  card.delayMs = 20;
  t.teardown(() => {
    card.delayMs = 0;
  });
  card.log.length = 0;
  const results = await Promise.all(Array.from({ length: 5 }, () => readers.withCard((tx) => readProfile(tx))));
  t.equal(results.length, 5);
  t.same([...new Set(results.map((r) => r.cardNo))], [chen.cardNo]);
  t.same(card.log, Array.from({ length: 5 }, () => ['A404', 'CA11', 'CA24']).flat());
});

t.test('pcscd killed and started again: the next read succeeds without restarting this process', async (t) => {
  await bed.stopPcscd();
  await t.rejects(readers.withCard((tx) => readProfile(tx)), PcscUnavailableError, 'no service: PC/SC unavailable (7001)');
  t.equal(readers.status().available, false);
  t.match(readers.status().reason ?? '', /pcscd/);
  await bed.startPcscd();
  await card.insert(); // the card reconnects to the new vpcd by itself; wait until it is powered
  let profile: CardProfile | undefined;
  for (let i = 0; i < 40 && !profile; i++) {
    profile = await readers.withCard((tx) => readProfile(tx)).catch(() => undefined);
    if (!profile) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(profile?.cardNo, chen.cardNo);
});

t.test('card removed and inserted again: the kept connection is renewed', async (t) => {
  await card.remove();
  await t.rejects(readers.withCard((tx) => readProfile(tx)), NoCardError, 'no card (8013)');
  await card.insert();
  card.log.length = 0;
  const p = await readers.withCard((tx) => readProfile(tx));
  t.equal(p.cardNo, chen.cardNo);
  t.same(card.log, ['A404', 'CA11', 'CA24'], 'the re-inserted card gets one SELECT too');
});

t.test('the status names readers and card presence, nothing personal', async (t) => {
  const s = readers.status();
  t.equal(s.available, true);
  t.same(s.readers.map((r) => r.name).sort(), [bed.readerName(0), bed.readerName(1)]);
  t.notMatch(JSON.stringify(s), chen.idNo);
});
