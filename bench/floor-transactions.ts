/**
 * A second floor for `npm run bench`: the same APDUs through our card addon
 * as the daemon sends them, inside a PC/SC transaction, in one call with
 * SCardBeginTransaction (the plan), the end not awaited before the next
 * round's begin. The plain pcsclite floor cannot hold other programs off the
 * card; this one shows what that guarantee costs by itself. Prints the round
 * times (ms) as JSON.
 */
import { createRequire } from 'node:module';
import { READ_PROFILE_PLAN } from '../src/card/operations.js';

const [readerName = 'Virtual PCD 00 00', roundsText = '300'] = process.argv.slice(2);
const rounds = Number(roundsText);
const card = createRequire(import.meta.url)('nhiicc-pcsc-card');
const conn = await card.connect(readerName);
const times: number[] = [];
let ending: Promise<void> = Promise.resolve();
for (let i = 0; i < rounds + 20; i++) {
  const t0 = performance.now();
  await ending;
  const answers: Buffer[] = await card.beginTransaction(conn, READ_PROFILE_PLAN);
  if (answers.length !== READ_PROFILE_PLAN.length) throw new Error(`the plan stopped after ${answers.length} APDUs`);
  ending = card.endTransaction(conn);
  if (i >= 20) times.push(performance.now() - t0);
}
await ending;
await card.disconnect(conn);
process.stdout.write(JSON.stringify(times));
process.exit(0);
