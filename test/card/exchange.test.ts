import t from 'tap';
import { type CardStep, exchange, getResponse, NHI_CARD, readIdAndRandom, readProfile, SELECT_NHI, withLe, mutualAuth } from '../../src/card/index.js';
import { VirtualCard, type CardProfileJson, mutualAuthAnswer, DEFAULT_SECRET } from '../bed/virtual-card.js';
import profile from '../fixtures/card-chen.json' with { type: 'json' };

// Unit level: the virtual card's APDU logic stands in for the reader, which
// hands an operation the card once NHI_CARD accepted it (its SELECT).
const cardWith = (opts: ConstructorParameters<typeof VirtualCard>[1] = {}) => {
  const card = new VirtualCard(profile as CardProfileJson, opts);
  const sent: string[] = [];
  const transmit = async (apdu: Buffer) => {
    sent.push(apdu.toString('hex').toUpperCase());
    return card.answer(apdu);
  };
  return { card, transmit, sent };
};

t.test('61xx: the rest is fetched with GET RESPONSE', async (t) => {
  const { transmit, sent } = cardWith({ t0Style: '61' });
  await NHI_CARD.accepts(transmit);
  const p = await readProfile(transmit);
  t.equal(p.name, '陳大明');
  t.ok(sent.includes(getResponse(57).toString('hex').toUpperCase()), 'GET RESPONSE with Le 0x39');
});

t.test('6Cxx: the command is sent again with the right Le', async (t) => {
  const { transmit, sent } = cardWith({ t0Style: '6C' });
  await NHI_CARD.accepts(transmit);
  const p = await readProfile(transmit);
  t.equal(p.idNo, 'A123456789');
  t.ok(sent.includes('00CA11000200' + '00' + '39'), 'READ PROFILE resent with Le 0x39');
});

t.test('withLe handles APDU cases 2, 3 and 4', async (t) => {
  t.equal(withLe(Buffer.from('0084000008', 'hex'), 0x10).toString('hex'), '0084000010');
  t.equal(withLe(Buffer.from('00CA1100020000', 'hex'), 0x39).toString('hex'), '00ca110002000039');
  t.equal(withLe(Buffer.from('00CA110002000000', 'hex'), 0x39).toString('hex'), '00ca110002000039');
});

t.test('a card that answers 61xx forever is an error, not a hang', async (t) => {
  await t.rejects(exchange(async () => Buffer.from([0x61, 0x10]), SELECT_NHI), RangeError);
});

t.test('every non-9000 status word is an error of its step, carrying the status word', async (t) => {
  const steps: Array<[string, CardStep, (tx: (a: Buffer) => Promise<Buffer>) => Promise<unknown>]> = [
    ['00CA11', 'READ basic profile', readProfile],
    ['00CA24', 'READ card data', readProfile],
    ['00CA00', 'READ card id', readIdAndRandom],
    ['008400', 'GET card random', readIdAndRandom],
    ['008211', 'MUTUAL AUTH', async (tx) => {
      await readIdAndRandom(tx);
      return mutualAuth(tx, Buffer.alloc(32, 7));
    }],
  ];
  for (const [key, step, op] of steps) {
    for (const sw of [0x6a82, 0x6982, 0x6700, 0x6d00, 0x6e00, 0x6f00, 0x6581]) {
      const { card, transmit } = cardWith();
      card.failures.set(key, sw);
      t.ok(await NHI_CARD.accepts(transmit));
      await t.rejects(op(transmit), { name: 'CardError', step, sw }, `${key} → ${sw.toString(16)} → ${step}`);
    }
  }
});

t.test('NHI_CARD refuses a card without the NHI applet, whatever SELECT answers', async (t) => {
  t.equal(await NHI_CARD.accepts(cardWith({ notNhi: true }).transmit), false, 'a non-NHI card');
  for (const sw of [0x6a82, 0x6982, 0x6700, 0x6d00, 0x6e00, 0x6f00, 0x6581]) {
    const { card, transmit } = cardWith();
    card.failures.set('00A404', sw);
    t.equal(await NHI_CARD.accepts(transmit), false, sw.toString(16));
  }
});

t.test('card id, random and mutual auth', async (t) => {
  const { transmit } = cardWith();
  await NHI_CARD.accepts(transmit);
  const { cardId, random } = await readIdAndRandom(transmit);
  t.equal(cardId.toString('latin1'), '000012345678');
  t.equal(random.length, 8);
  const challenge = Buffer.alloc(32, 0x42);
  t.same(await mutualAuth(transmit, challenge), mutualAuthAnswer(DEFAULT_SECRET, challenge, random));
});
