// Another program on the same card: connects in shared mode through the PC/SC
// library and says "connected"; on a line from stdin sends GET CHALLENGE and
// says "done". (It connects first: pcscd holds a new connection back while a
// transaction is open.) Used by the transaction test.
import { loadWinscard } from '../../src/pcsc/winscard.js';

const readerName = process.argv[2]!;
const w = loadWinscard();
const ctx = await w.establishContext();
const { handle, protocol } = await w.connect(ctx, readerName);
process.stdout.write('connected\n');
process.stdin.once('data', () => {
  w.transmit(handle, protocol, Buffer.from('0084000008', 'hex')).then(
    () => process.stdout.write('done\n'),
    (e: unknown) => process.stdout.write(`error ${String(e)}\n`),
  ).finally(() => process.exit(0));
});
