import t from 'tap';
import { CardError } from '../../src/card/errors.js';
import { NoCardError, PcscUnavailableError } from '../../src/pcsc/errors.js';
import { SamError } from '../../src/sam/errors.js';
import { decryptEnCrypt, decryptSecureBasic } from '../helpers/legacy-decrypt.js';
import { HEADERS, memoryApp } from '../helpers/memory-app.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { ask } from '../helpers/served.js';

/**
 * The protocol's handlers in memory (fastify's inject and injectWS, a fake
 * card layer): each command's reply, and the code each layer's failure
 * reaches the page as. protocol.test.ts runs the same commands on the real
 * stack (pcscd, vpcd and the virtual card).
 */

const chen = loadProfile('chen');
const BASIC = `GetBasic:${expectedBasic(chen)}`;
/** 23:30 UTC: already the next day in Taiwan, so a cipher keyed by the UTC date fails. */
const NOW = new Date('2026-03-04T23:30:00Z');

t.test('GetVersion, GetRandom, GetBasic', async (t) => {
  const { card, connect } = await memoryApp(t);
  const ws = await connect();
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
  t.equal(card.started, 0, 'GetVersion needs no card');
  const r1 = await ask(ws, 'GetRandom');
  t.match(r1, /^GetRandom:\d{16}$/);
  t.not(await ask(ws, 'GetRandom'), r1, 'fresh random each time');
  t.equal(await ask(ws, 'GetBasic'), BASIC);
});

t.test('HKSCS name over the wire', async (t) => {
  const { card, connect } = await memoryApp(t);
  const hkscs = loadProfile('hkscs');
  card.card.profile = hkscs;
  t.equal(await ask(await connect(), 'GetBasic'), `GetBasic:${expectedBasic(hkscs)}`);
});

t.test('unknown commands and malformed arguments answer 9999, without the card', async (t) => {
  const { card, connect } = await memoryApp(t);
  const ws = await connect();
  for (const text of ['Hello', '', 'getversion', 'GetBasic?x=1', 'EnCrypt', 'EnCrypt?pwd=123456', 'H_Sign', 'GetVersion ']) {
    t.equal(await ask(ws, text), '9999', JSON.stringify(text));
  }
  t.equal(card.started, 0);
});

t.test("EnCrypt: 6..12 characters else 8009 without the card; the reply decrypts with the card id and Taiwan's date", async (t) => {
  const { card, connect } = await memoryApp(t, { now: () => NOW });
  const ws = await connect();
  t.equal(await ask(ws, 'EnCrypt?Pwd=12345'), '8009');
  t.equal(await ask(ws, 'EnCrypt?Pwd=1234567890123'), '8009');
  t.equal(card.started, 0, 'a bad password never reaches the card');
  const reply = await ask(ws, 'EnCrypt?Pwd=Pa55word');
  t.match(reply, /^EnCrypt:[0-9A-F]+$/);
  t.equal(decryptEnCrypt(reply.slice('EnCrypt:'.length), chen.cardNo, NOW), 'Pa55word');
  const withUtcDate = (() => {
    try {
      return decryptEnCrypt(reply.slice('EnCrypt:'.length), chen.cardNo, new Date('2026-03-04T12:00:00Z'));
    } catch {
      return undefined;
    }
  })();
  t.not(withUtcDate, 'Pa55word', 'the UTC date is not the key');
});

t.test('SecureGetBasicWithParam decrypts to the GetBasic text', async (t) => {
  const { connect } = await memoryApp(t, { now: () => NOW });
  const reply = await ask(await connect(), 'SecureGetBasicWithParam?Pwd=123456');
  t.match(reply, /^SecureGetBasicWithParam:[0-9A-F]+$/);
  t.equal(decryptSecureBasic(reply.slice('SecureGetBasicWithParam:'.length), NOW), expectedBasic(chen));
});

t.test("H_Sign: the signer gets the page's value, the page gets the signature", async (t) => {
  const values: string[] = [];
  const { connect } = await memoryApp(t, {
    sign: async (value) => {
      values.push(value);
      return 'S'.repeat(256);
    },
  });
  const ws = await connect();
  t.equal(await ask(ws, 'H_Sign?Random=00011234567890123456'), `H_Sign:${'S'.repeat(256)}`);
  t.same(values, ['00011234567890123456']);
});

t.test('Exit: no reply, the connection goes on', async (t) => {
  const { connect } = await memoryApp(t);
  const ws = await connect();
  let replied = false;
  ws.once('message', () => {
    replied = true;
  });
  ws.send('Exit');
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(replied);
  ws.removeAllListeners('message');
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
});

t.test("each layer's failure reaches the page as the code docs/protocol.md gives it", async (t) => {
  const { card, connect } = await memoryApp(t);
  const ws = await connect();
  const cases: Array<[string, unknown, string]> = [
    ['PC/SC unavailable', new PcscUnavailableError('the PC/SC service is not running'), '7001'],
    ['no reader', new NoCardError('no-reader', 'no card reader found'), '8013'],
    ['no card', new NoCardError('no-card', 'no card in the reader'), '8013'],
    ['card removed', new NoCardError('removed', 'the card was removed'), '8013'],
    ['not an NHI card', new NoCardError('not-accepted', 'the card in the reader is not an NHI card'), '7004'],
    ['a card step', new CardError('READ card data', 'READ card data failed', 0x6a82), '8010'],
    ['a fault of ours', new TypeError('a bug'), '8201'],
  ];
  for (const [what, err, code] of cases) {
    card.failNext = err;
    t.equal(await ask(ws, 'GetBasic'), code, what);
  }
  t.equal(await ask(ws, 'GetBasic'), BASIC, 'and the next command works');
});

t.test('card status words through the handlers: each step its code', async (t) => {
  const { card, connect } = await memoryApp(t);
  const ws = await connect();
  const cases: Array<[string, string, string]> = [
    ['00A404', 'GetBasic', '7004'],
    ['00CA11', 'GetBasic', '8011'],
    ['00CA24', 'SecureGetBasicWithParam?Pwd=123456', '8010'],
    ['00CA00', 'EnCrypt?Pwd=123456', '8001'],
  ];
  for (const [apdu, command, code] of cases) {
    card.card.failures.set(apdu, 0x6a82);
    t.equal(await ask(ws, command), code, `${apdu} refused: ${command} answers ${code}`);
    card.card.failures.delete(apdu);
  }
});

t.test("H_Sign: the SAM layer's steps reach the page as their codes", async (t) => {
  let failure: unknown;
  const { connect } = await memoryApp(t, {
    sign: async () => {
      throw failure;
    },
  });
  const ws = await connect();
  for (const [err, code] of [
    [new SamError('connect', 'refused'), '4061'],
    [new SamError('server hello', 'malformed'), '8305'],
    [new SamError('signature', 'the SAM refused'), '8008'],
    [new CardError('MUTUAL AUTH', 'MUTUAL AUTH failed', 0x6982), '8006'],
  ] as const) {
    failure = err;
    t.equal(await ask(ws, 'H_Sign?Random=00011234567890123456'), code, `${err.name} ${'step' in err ? err.step : ''}`);
  }
});

t.test('/: the page that tells the user the service is trusted', async (t) => {
  const { app } = await memoryApp(t);
  const res = await app.inject({ method: 'GET', url: '/', headers: { host: HEADERS.host } });
  t.equal(res.statusCode, 200);
  t.match(res.body, /已確認為可信任服務/);
  const rebound = await app.inject({ method: 'GET', url: '/', headers: { host: 'evil.example:7777' } });
  t.equal(rebound.statusCode, 421, 'a foreign Host is refused');
});
