/**
 * The floor for `npm run bench`, in its own process like the daemon would be:
 * SELECT + READ PROFILE + READ CARD DATA straight through pcsclite on an open
 * connection, rounds back to back, driven by floor-rounds.ts.
 */
import { createRequire } from 'node:module';
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../src/card/apdu.js';
import { answerRoundRequests } from './floor-rounds.js';

const [readerName = 'Virtual PCD 00 00'] = process.argv.slice(2);

const pcsc = createRequire(import.meta.url)('pcsclite')();
pcsc.on('error', () => undefined); // close() cancels its status wait with an error
const reader = await new Promise<any>((resolve) =>
  pcsc.on('reader', (r: any) => {
    r.on('error', () => undefined);
    if (r.name === readerName) resolve(r);
  }),
);
await new Promise((r) => setTimeout(r, 300));
const protocol: number = await new Promise((resolve, reject) =>
  reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err: unknown, p: number) => (err ? reject(err) : resolve(p))),
);
const tx = (apdu: Buffer) =>
  new Promise<Buffer>((resolve, reject) => reader.transmit(apdu, 4096, protocol, (e: unknown, d: Buffer) => (e ? reject(e) : resolve(d))));
const round = async () => {
  await tx(SELECT_NHI);
  await tx(READ_BASIC_PROFILE);
  await tx(READ_CARD_DATA);
};
const finish = async () => {
  await new Promise((r) => reader.disconnect(reader.SCARD_LEAVE_CARD, r));
  reader.close();
  pcsc.close();
  process.exit(0);
};

answerRoundRequests(round, finish);
