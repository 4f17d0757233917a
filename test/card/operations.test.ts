import t from 'tap';
import { readCardId, readIdAndRandom, readProfile } from '../../src/card/operations.js';
import { type CardProfileJson, VirtualCard } from '../bed/virtual-card.js';
import profile from '../fixtures/card-chen.json' with { type: 'json' };

// What each operation sends to a card that answers 9000 throughout: EnCrypt
// must not ask for the card random it never uses, and no APDU goes twice.
const recorded = async (operation: (tx: (apdu: Buffer) => Promise<Buffer>) => Promise<unknown>) => {
  const card = new VirtualCard(profile as CardProfileJson);
  const sent: string[] = [];
  await operation(async (apdu) => {
    sent.push(apdu.toString('hex').slice(0, 6).toUpperCase());
    return card.answer(apdu);
  });
  return sent;
};

t.test('readProfile: SELECT, basic profile, card data', async (t) => {
  t.same(await recorded(readProfile), ['00A404', '00CA11', '00CA24']);
});

t.test('readIdAndRandom: SELECT, card id, card random', async (t) => {
  t.same(await recorded(readIdAndRandom), ['00A404', '00CA00', '008400']);
});

t.test('readCardId: SELECT and card id only', async (t) => {
  t.same(await recorded(readCardId), ['00A404', '00CA00']);
});
