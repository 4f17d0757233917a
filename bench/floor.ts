/**
 * The floor for `npm run bench`, in its own process like the daemon would be:
 * SELECT + READ PROFILE + READ CARD DATA straight through pcsclite on an open
 * connection.
 *
 *   floor.ts READER loop     rounds back to back, driven by floor-rounds.ts
 *   floor.ts READER served   one round per byte received on a loopback TCP
 *                            connection, answered with one byte; prints the port
 *
 * The served mode is what any component answering a page pays before its own
 * protocol: the request wakes it up from idle, as a WebSocket frame wakes the
 * daemon. Back to back, the processes on the card path never go idle and each
 * APDU costs about half as much on a small VM.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../src/card/apdu.js';
import { answerRoundRequests } from './floor-rounds.js';

const [readerName = 'Virtual PCD 00 00', mode = 'loop'] = process.argv.slice(2);

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

if (mode === 'served') {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', () => void round().then(() => socket.write('k')));
    socket.on('close', () => void finish());
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`));
} else {
  answerRoundRequests(round, finish);
}
