// Run the whole file in a zone far from Taiwan: the service must still use Taiwan's date.
process.env.TZ = 'America/Los_Angeles';

import t from 'tap';
import { startTestBed } from '../bed/testbed.js';
import { PROGRAM } from '../helpers/cli.js';
import { decryptEnCrypt, decryptSecureBasic } from '../helpers/legacy-decrypt.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { ask, serve } from '../helpers/served.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
const served = await serve();
t.teardown(() => served.close());
t.comment(`testing ${PROGRAM}`);

const chen = loadProfile('chen');
const card = bed.card(chen);
await card.insert();

t.test('the time zone of this process is not Taiwan', async (t) => {
  t.not(new Date().getTimezoneOffset(), -480);
});

t.test('GetVersion, GetRandom, GetBasic', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
  const r1 = await ask(ws, 'GetRandom');
  const r2 = await ask(ws, 'GetRandom');
  t.match(r1, /^GetRandom:\d{16}$/);
  t.not(r1, r2, 'fresh random each time');
  t.equal(await ask(ws, 'GetBasic'), `GetBasic:${expectedBasic(chen)}`);
});

t.test('HKSCS name over the wire', async (t) => {
  const hk = loadProfile('hkscs');
  card.profile = hk;
  t.teardown(() => {
    card.profile = chen;
  });
  const ws = await served.connect();
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'GetBasic'), `GetBasic:${expectedBasic(hk)}`);
  t.match(await ask(ws, 'GetBasic'), /林喆𡃁/);
});

t.test('unknown commands and malformed arguments answer 9999', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  for (const text of ['Hello', '', 'getversion', 'GetBasic?x=1', 'EnCrypt', 'EnCrypt?pwd=123456', 'H_Sign', 'GetVersion ']) {
    t.equal(await ask(ws, text), '9999', JSON.stringify(text));
  }
});

t.test('EnCrypt: password length 6..12 else 8009; the reply decrypts to the password with the Taiwan date', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'EnCrypt?Pwd=12345'), '8009');
  t.equal(await ask(ws, 'EnCrypt?Pwd=1234567890123'), '8009');
  for (const pwd of ['123456', 'abcDEF123456', 'Pa55word']) {
    const before = new Date();
    card.log.length = 0;
    const reply = await ask(ws, `EnCrypt?Pwd=${pwd}`);
    t.same(card.log.filter((c) => c !== 'A404'), ['CA00'], 'reads the card id and nothing more');
    const after = new Date();
    t.match(reply, /^EnCrypt:[0-9A-F]+$/);
    const hex = reply.slice('EnCrypt:'.length);
    // Accept either side of a midnight that falls during the call.
    const candidates = [before, after].map((at) => {
      try {
        return decryptEnCrypt(hex, chen.cardNo, at);
      } catch {
        return undefined;
      }
    });
    t.ok(candidates.includes(pwd), `decrypts to the password (${pwd.length} chars)`);
  }
});

t.test('EnCrypt keyed with the wrong date does not decrypt', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  const reply = await ask(ws, 'EnCrypt?Pwd=123456');
  const hex = reply.slice('EnCrypt:'.length);
  // The host's own date (Los Angeles) differs from Taiwan's for 8 or more hours a day;
  // a date two days off always differs.
  const wrong = new Date(Date.now() - 2 * 86_400_000);
  let result: string | undefined;
  try {
    result = decryptEnCrypt(hex, chen.cardNo, wrong);
  } catch {
    result = undefined;
  }
  t.not(result, '123456');
});

t.test('SecureGetBasicWithParam decrypts to the GetBasic text', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  const reply = await ask(ws, 'SecureGetBasicWithParam?Pwd=123456');
  t.match(reply, /^SecureGetBasicWithParam:[0-9A-F]+$/);
  t.equal(decryptSecureBasic(reply.slice('SecureGetBasicWithParam:'.length), new Date()), expectedBasic(chen));
});

t.test('Exit is ignored: no reply, the socket and the service go on', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  let replied = false;
  ws.once('message', () => (replied = true));
  ws.send('Exit');
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(replied, 'no reply to Exit');
  ws.removeAllListeners('message');
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
  const other = await served.connect();
  t.equal(await ask(other, 'GetVersion'), 'GetVersion:0001');
  other.close();
  t.match(served.logText(), /Exit ignored/);
});

t.test('card errors: removed 8013, not an NHI card 7004', async (t) => {
  const ws = await served.connect();
  t.teardown(() => ws.close());
  await card.remove();
  t.teardown(() => card.insert());
  t.equal(await ask(ws, 'GetBasic'), '8013');
  t.equal(await ask(ws, 'EnCrypt?Pwd=123456'), '8013');
  t.equal(await ask(ws, 'SecureGetBasicWithParam?Pwd=123456'), '8013');
  const other = bed.card(chen, { notNhi: true });
  await other.insert();
  t.teardown(() => other.remove());
  t.equal(await ask(ws, 'GetBasic'), '7004');
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001', 'no card needed');
});

t.test('many connections at once: every reply right, card work serialized', async (t) => {
  await card.insert();
  const sockets = await Promise.all(Array.from({ length: 10 }, () => served.connect()));
  t.teardown(() => {
    for (const s of sockets) s.close();
  });
  await ask(sockets[0]!, 'GetBasic'); // the first read after insertion also probes the card
  card.log.length = 0;
  const replies = await Promise.all(sockets.flatMap((s) => [ask(s, 'GetBasic')]));
  for (const r of replies) t.equal(r, `GetBasic:${expectedBasic(chen)}`);
  // Each read is SELECT, READ PROFILE, READ CARD DATA; interleaving would break the triples.
  const triples = [];
  for (let i = 0; i < card.log.length; i += 3) triples.push(card.log.slice(i, i + 3).join(' '));
  t.same(new Set(triples), new Set(['A404 CA11 CA24']));
});

t.test('no reader at all: 8013', async (t) => {
  await bed.restartPcscd({ noReaders: true });
  t.teardown(() => bed.restartPcscd());
  const ws = await served.connect();
  t.teardown(() => ws.close());
  let reply = '';
  // The service notices pcscd went away and reopens its context by itself.
  for (let i = 0; i < 20; i++) {
    reply = await ask(ws, 'GetBasic');
    if (reply === '8013') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(reply, '8013');
});

t.test('at the most verbose level the log holds no personal data, password or ciphertext', async (t) => {
  await bed.restartPcscd();
  await card.insert();
  const ws = await served.connect();
  t.teardown(() => ws.close());
  const replies: string[] = [];
  for (let i = 0; i < 20 && !(replies[0] ?? '').startsWith('GetBasic:'); i++) {
    replies[0] = await ask(ws, 'GetBasic');
    if (!replies[0].startsWith('GetBasic:')) await new Promise((r) => setTimeout(r, 250));
  }
  t.match(replies[0], /^GetBasic:/);
  replies.push(await ask(ws, 'EnCrypt?Pwd=Secret9876'));
  replies.push(await ask(ws, 'SecureGetBasicWithParam?Pwd=Other54321'));
  replies.push(await ask(ws, 'GetRandom'));
  const log = served.logText();
  t.match(log, /"level":10|"level":20|"command":"GetBasic"/, 'the log is written');
  for (const secret of [chen.cardNo, chen.idNo, chen.name, chen.birthDateRoc, '1981-01-01', 'Secret9876', 'Other54321']) {
    t.notOk(log.includes(secret), `absent: ${secret.length}-char value`);
  }
  for (const r of replies) t.notOk(log.includes(r.slice(r.indexOf(':') + 1)), `reply payload of ${r.split(':')[0]} absent`);
});
