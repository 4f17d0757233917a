/**
 * A second floor for `npm run bench`: the same APDUs through our card addon,
 * inside one PC/SC transaction each, as the daemon sends them. The plain
 * pcsclite floor cannot hold other programs off the card; this one shows
 * what that guarantee costs by itself. Prints the round times (ms) as JSON.
 */
import { createRequire } from 'node:module';
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../src/card/apdu.js';

const [readerName = 'Virtual PCD 00 00', roundsText = '300'] = process.argv.slice(2);
const rounds = Number(roundsText);
const card = createRequire(import.meta.url)('nhiicc-pcsc-card');
const conn = await card.connect(readerName);
const times: number[] = [];
for (let i = 0; i < rounds + 20; i++) {
  const t0 = performance.now();
  await card.beginTransaction(conn);
  await card.transmit(conn, SELECT_NHI);
  await card.transmit(conn, READ_BASIC_PROFILE);
  await card.transmit(conn, READ_CARD_DATA);
  await card.endTransaction(conn);
  if (i >= 20) times.push(performance.now() - t0);
}
await card.disconnect(conn);
process.stdout.write(JSON.stringify(times));
process.exit(0);
