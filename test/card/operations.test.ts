import t from 'tap';
import {
  READ_CARD_ID_PLAN,
  READ_ID_AND_RANDOM_PLAN,
  READ_PROFILE_PLAN,
  readCardId,
  readIdAndRandom,
  readProfile,
} from '../../src/card/operations.js';
import { type CardProfileJson, VirtualCard } from '../bed/virtual-card.js';
import profile from '../fixtures/card-chen.json' with { type: 'json' };

// The PC/SC layer trusts a plan to be what its operation sends when every
// answer is 9000; these keep the two from drifting apart.
const recorded = async (operation: (tx: (apdu: Buffer) => Promise<Buffer>) => Promise<unknown>) => {
  const card = new VirtualCard(profile as CardProfileJson);
  const sent: string[] = [];
  await operation(async (apdu) => {
    sent.push(apdu.toString('hex'));
    return card.answer(apdu);
  });
  return sent;
};
const hex = (plan: readonly Buffer[]) => plan.map((a) => a.toString('hex'));

t.test('readProfile sends exactly READ_PROFILE_PLAN', async (t) => {
  t.same(await recorded(readProfile), hex(READ_PROFILE_PLAN));
});

t.test('readIdAndRandom sends exactly READ_ID_AND_RANDOM_PLAN', async (t) => {
  t.same(await recorded(readIdAndRandom), hex(READ_ID_AND_RANDOM_PLAN));
});

t.test('readCardId sends exactly READ_CARD_ID_PLAN', async (t) => {
  t.same(await recorded(readCardId), hex(READ_CARD_ID_PLAN));
});
