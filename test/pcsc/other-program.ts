// Another program on the same card: connects in shared mode through pcsclite
// and says "connected"; on a line from stdin sends GET CHALLENGE and says
// "done". (It connects first: pcscd holds a new connection back while a
// transaction is open.) Used by the transaction test.
import { createRequire } from 'node:module';

const readerName = process.argv[2]!;
const pcsc = createRequire(import.meta.url)('pcsclite')();
pcsc.on('error', () => undefined);
pcsc.on('reader', (reader: any) => {
  reader.on('error', () => undefined);
  if (reader.name !== readerName) return;
  setTimeout(() => {
    reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err: unknown, protocol: number) => {
      if (err) throw err;
      process.stdout.write('connected\n');
      process.stdin.once('data', () =>
        reader.transmit(Buffer.from('0084000008', 'hex'), 258, protocol, (e: unknown) => {
          process.stdout.write(e ? `error ${String(e)}\n` : 'done\n');
          process.exit(0);
        }),
      );
    });
  }, 200);
});
