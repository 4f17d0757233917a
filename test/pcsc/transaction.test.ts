import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { SELECT_NHI, READ_BASIC_PROFILE } from '../../src/card/apdu.js';
import { loadCardAddon, openCardReaders } from '../../src/pcsc/index.js';
import { startTestBed } from '../bed/testbed.js';
import { loadProfile } from '../helpers/profiles.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
const card = bed.card(loadProfile('chen'));
await card.insert();
const readers = openCardReaders();
t.teardown(() => readers.close());

t.test('the card-connection addon with PC/SC transactions is built', async (t) => {
  t.ok(loadCardAddon(), 'native/pcsc-card loads (npm install builds it)');
});

t.test("another program's APDU waits until our multi-APDU operation is over", async (t) => {
  await readers.withCard(async (tx) => tx(SELECT_NHI)); // connect and probe first
  card.log.length = 0;
  const other = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'other-program.ts'), bed.readerName(0)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  other.stdout.on('data', (c) => (out += c));
  const said = async (word: string) => {
    for (let i = 0; i < 200 && !out.includes(word); i++) await new Promise((r) => setTimeout(r, 25));
  };
  t.teardown(() => other.kill());
  await said('connected');
  await readers.withCard(async (tx) => {
    await tx(SELECT_NHI);
    other.stdin.write('go\n');
    // Give the other program's APDU every chance to slip in.
    await new Promise((r) => setTimeout(r, 300));
    await tx(READ_BASIC_PROFILE);
  });
  await said('done');
  t.match(out, /done/);
  t.same(card.log, ['A404', 'CA11', '8400'], 'the other APDU came after our whole operation');
});
