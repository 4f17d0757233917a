import t from 'tap';
import { NHI_CARD, readCardId, readIdAndRandom, readProfile } from '../../src/card/operations.js';
import { type CardProfileJson, VirtualCard } from '../bed/virtual-card.js';
import profile from '../fixtures/card-chen.json' with { type: 'json' };

// What each operation sends to a card that answers 9000 throughout, after
// the SELECT that accepted it (the reader layer sends that one): EnCrypt must
// not ask for the card random it never uses, and no APDU goes twice.
const recorded = async (operation: (tx: (apdu: Buffer) => Promise<Buffer>) => Promise<unknown>) => {
  const card = new VirtualCard(profile as CardProfileJson);
  const sent: string[] = [];
  const transmit = async (apdu: Buffer) => {
    sent.push(apdu.toString('hex').slice(0, 6).toUpperCase());
    return card.answer(apdu);
  };
  if (!(await NHI_CARD.accepts(transmit))) throw new Error('the virtual card refused SELECT');
  await operation(transmit);
  return sent;
};

t.test('NHI_CARD: SELECT of the NHI applet; another card refuses it', async (t) => {
  t.same(await recorded(async () => undefined), ['00A404']);
  const other = new VirtualCard(profile as CardProfileJson, { notNhi: true });
  t.equal(await NHI_CARD.accepts(async (apdu) => other.answer(apdu)), false);
});

t.test('readProfile: SELECT, basic profile, card data', async (t) => {
  t.same(await recorded(readProfile), ['00A404', '00CA11', '00CA24']);
});

t.test('readIdAndRandom: SELECT, card id, card random', async (t) => {
  t.same(await recorded(readIdAndRandom), ['00A404', '00CA00', '008400']);
});

t.test('readCardId: SELECT and card id only', async (t) => {
  t.same(await recorded(readCardId), ['00A404', '00CA00']);
});
