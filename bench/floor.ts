/**
 * The floor for `npm run bench`, in its own process like the daemon would be:
 * SELECT + READ PROFILE + READ CARD DATA straight through the PC/SC binding
 * (src/pcsc/winscard.ts) on an open connection, no transaction, rounds back
 * to back, driven by floor-rounds.ts.
 */
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../src/card/apdu.js';
import { loadWinscard } from '../src/pcsc/winscard.js';
import { answerRoundRequests } from './floor-rounds.js';

const [readerName = 'Virtual PCD 00 00'] = process.argv.slice(2);

const w = loadWinscard();
const ctx = await w.establishContext();
const { handle, protocol } = await w.connect(ctx, readerName);
answerRoundRequests(
  async () => {
    for (const apdu of [SELECT_NHI, READ_BASIC_PROFILE, READ_CARD_DATA]) await w.transmit(handle, protocol, apdu);
  },
  async () => {
    await w.disconnect(handle);
    await w.releaseContext(ctx);
    process.exit(0);
  },
);
