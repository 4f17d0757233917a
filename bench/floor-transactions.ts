/**
 * A second floor for `npm run bench`: the same APDUs through our card addon
 * as the daemon sends them, inside a PC/SC transaction, in one call with
 * SCardBeginTransaction (the plan), the end not awaited before the next
 * round's begin. The plain pcsclite floor cannot hold other programs off the
 * card; this one shows what that guarantee costs by itself. Driven by
 * floor-rounds.ts.
 */
import { createRequire } from 'node:module';
import { READ_PROFILE_PLAN } from '../src/card/operations.js';
import { answerRoundRequests } from './floor-rounds.js';

const [readerName = 'Virtual PCD 00 00'] = process.argv.slice(2);
const card = createRequire(import.meta.url)('nhiicc-pcsc-card');
const conn = await card.connect(readerName);
let ending: Promise<void> = Promise.resolve();
answerRoundRequests(
  async () => {
    await ending;
    const answers: Buffer[] = await card.beginTransaction(conn, READ_PROFILE_PLAN);
    if (answers.length !== READ_PROFILE_PLAN.length) throw new Error(`the plan stopped after ${answers.length} APDUs`);
    ending = card.endTransaction(conn);
  },
  async () => {
    await ending;
    await card.disconnect(conn);
    process.exit(0);
  },
);
