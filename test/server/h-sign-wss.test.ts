import t from 'tap';
import { DEFAULT_REPLY_TIMEOUT_MS } from '../../src/sam/h-sign.js';
import { startTestBed } from '../bed/testbed.js';
import { BUNDLE_DIR, PROGRAM } from '../helpers/cli.js';
import { loadProfile } from '../helpers/profiles.js';
import { ask, serve } from '../helpers/served.js';
import { FakeSam, type FakeSamMode } from '../sam/fake-sam.js';

/** The official page flow over WSS, with H_Sign signed by the fake SAM on loopback. */

const chen = loadProfile('chen');
const lin = loadProfile('hkscs');
// The bundled program (NHIICC_TEST_BUNDLE) has its own SAM timeouts, which no option shortens.
const TIMEOUT = BUNDLE_DIR ? DEFAULT_REPLY_TIMEOUT_MS : 500;
const samTimeout = BUNDLE_DIR ? {} : { samTimeoutMs: TIMEOUT };
t.comment(`testing ${PROGRAM}`);

const bed = await startTestBed();
t.teardown(() => bed.stop());
const fake = await FakeSam.start({ cards: { [chen.cardNo]: chen.secret!, [lin.cardNo]: lin.secret! } });
t.teardown(() => fake.close());
const served = await serve({ sam: `127.0.0.1:${fake.port}`, ...samTimeout });
t.teardown(() => served.close());
const card = bed.card(chen);
await card.insert();

async function officialFlow(ws: Awaited<ReturnType<typeof served.connect>>) {
  t.match(await ask(ws, 'GetBasic'), /^GetBasic:/);
  const version = (await ask(ws, 'GetVersion')).slice('GetVersion:'.length);
  const random = (await ask(ws, 'GetRandom')).slice('GetRandom:'.length);
  const value = `${version}${random}`;
  return { value, reply: await ask(ws, `H_Sign?Random=${value}`) };
}

t.test('GetBasic → GetVersion → GetRandom → H_Sign ends with a signature from the SAM', async (t) => {
  fake.mode = 'ok';
  const ws = await served.connect();
  t.teardown(() => ws.close());
  const { value, reply } = await officialFlow(ws);
  t.match(reply, /^H_Sign:.{256}$/);
  t.ok(fake.verify(value, reply.slice('H_Sign:'.length)), "the fake SAM's key verifies it");
});

t.test('two pages run the flow at once: both succeed with their own signature', async (t) => {
  fake.mode = 'ok';
  const [a, b] = await Promise.all([served.connect(), served.connect()]);
  t.teardown(() => {
    a!.close();
    b!.close();
  });
  const [ra, rb] = await Promise.all([officialFlow(a!), officialFlow(b!)]);
  t.ok(fake.verify(ra.value, ra.reply.slice(7)));
  t.ok(fake.verify(rb.value, rb.reply.slice(7)));
  t.not(ra.reply, rb.reply);
});

const failures: Array<[FakeSamMode, string]> = [
  ['silent', '8305'],
  ['garbage', '8305'],
  ['shortChallenge', '8005'],
  ['closeMidExchange', '8005'],
  ['rejectCard', '8008'],
  ['serviceDown', '8005'],
  ['badServerKey', '8303'],
];
for (const [mode, code] of failures) {
  t.test(`SAM ${mode} → ${code} within the timeout; the service stays healthy`, async (t) => {
    fake.mode = mode;
    const ws = await served.connect();
    t.teardown(() => ws.close());
    const started = Date.now();
    const reply = await ask(ws, 'H_Sign?Random=00011234567890123456');
    t.equal(reply, code);
    t.ok(Date.now() - started < TIMEOUT * 3 + 1000, `answered in ${Date.now() - started} ms`);
    fake.mode = 'ok';
    t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
    t.match(await ask(ws, 'GetBasic'), /^GetBasic:/, 'the card is not left locked');
  });
}

t.test('SAM unreachable → 4061', async (t) => {
  const refusing = await FakeSam.start({ cards: {}, mode: 'refuse' });
  const other = await serve({ sam: `127.0.0.1:${refusing.port}`, ...samTimeout });
  t.teardown(() => other.close());
  const ws = await other.connect();
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'H_Sign?Random=00011234567890123456'), '4061');
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
});

t.test('a malformed value is refused without contacting the SAM', async (t) => {
  fake.mode = 'ok';
  const ws = await served.connect();
  t.teardown(() => ws.close());
  const before = fake.connections;
  for (const bad of ['0001123', '00021234567890123456', '0001123456789012345x', '000112345678901234567']) {
    t.not(await ask(ws, `H_Sign?Random=${bad}`), '9999');
  }
  t.equal(fake.connections, before);
});

t.test('card removed between GetRandom and H_Sign → an error code, no hang', async (t) => {
  fake.mode = 'ok';
  const ws = await served.connect();
  t.teardown(() => ws.close());
  const random = (await ask(ws, 'GetRandom')).slice('GetRandom:'.length);
  await card.remove();
  t.teardown(() => card.insert());
  t.equal(await ask(ws, `H_Sign?Random=0001${random}`), '8013');
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
});

t.test('nothing of the card or the signature reaches the log', async (t) => {
  const log = served.logText();
  for (const secret of [chen.cardNo, chen.idNo, chen.name, chen.secret!]) t.notOk(log.includes(secret), 'personal or secret value absent');
  t.notMatch(log, /[0-9a-f]{256}/, 'no signature');
});
