/**
 * The second floor for `npm run bench`: a bare TLS WebSocket server (node's
 * https + ws, no framework, no protocol layer, no decoding) that answers each
 * frame with the card's raw answers to the same APDUs, sent through our card
 * port as the daemon sends them (inside a PC/SC transaction that lingers). It
 * is what any component answering a page over wss:// pays on this machine
 * before its own code runs: waking on the frame, TLS both ways, and the card
 * I/O. Prints its port.
 *
 *   floor-wss.ts READER CONFIG_DIR    serves CONFIG_DIR's server certificate
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../src/card/apdu.js';
import { transactionalPort } from '../src/pcsc/transactional-port.js';
import { loadWinscard } from '../src/pcsc/winscard.js';

const [readerName = 'Virtual PCD 00 00', configDir = '.'] = process.argv.slice(2);
const w = loadWinscard();
const port = transactionalPort(w, await w.establishContext(), readerName);
await port.connect();
const server = https.createServer({
  cert: fs.readFileSync(path.join(configDir, 'server.crt')),
  key: fs.readFileSync(path.join(configDir, 'server.key')),
});
new WebSocketServer({ server, path: '/echo' }).on('connection', (ws) =>
  ws.on('message', async () => {
    await port.beginTransaction();
    const answers = [];
    for (const apdu of [SELECT_NHI, READ_BASIC_PROFILE, READ_CARD_DATA]) answers.push(await port.transmit(apdu));
    await port.endTransaction();
    ws.send(`GetBasic:${Buffer.concat(answers).toString('latin1')}`);
  }),
);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
process.stdin.resume().on('end', () => void port.disconnect().then(() => process.exit(0)));
