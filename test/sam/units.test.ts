import crypto from 'node:crypto';
import t from 'tap';
import { decrypt3des, decryptPacket, encrypt3des, encryptPacket } from '../../src/sam/cipher.js';
import { L_KEY } from '../../src/sam/constants.js';
import pino from 'pino';
import { timed } from '../../src/sam/client.js';
import { SamError } from '../../src/sam/errors.js';
import { parseSamEndpoint, type SamLog } from '../../src/sam/h-sign.js';
import { cipherFramer, plainFramer } from '../../src/sam/packets.js';
import { decryptPkcs1, generateClientKeys, RsaDecryptError, unpadPkcs1Type2 } from '../../src/sam/rsa.js';

t.test('L_KEY is bKEY[K_BOX[i]] for i < 16, then 8 zero bytes', async (t) => {
  // Worked by hand from docs/protocol.md §5: K_BOX[0] = 0x56 = 86, 86 mod 17 = 1 → '2', and so on.
  t.equal(L_KEY.toString('hex'), Buffer.concat([Buffer.from('2725268641815652'), Buffer.alloc(8)]).toString('hex'));
});

t.test('3DES-ECB matches the NIST SP 800-67 example', async (t) => {
  const key = Buffer.from('0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123', 'hex');
  const plain = Buffer.from('The qufck brown fox jump');
  // The example has no padding; with PKCS#5 one more block follows.
  const withPadding = encrypt3des(key, plain);
  t.equal(withPadding.length, 32);
  t.equal(withPadding.subarray(0, 24).toString('hex'), 'a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900');
  t.same(decrypt3des(key, withPadding), plain);
});

t.test('enc(k, p) pads with PKCS#5 and ends with <E>', async (t) => {
  for (const n of [0, 1, 7, 8, 9, 277]) {
    const p = crypto.randomBytes(n);
    const packet = encryptPacket(L_KEY, p);
    t.equal(packet.length, (Math.floor(n / 8) + 1) * 8 + 3, `length for ${n} bytes`);
    t.equal(packet.subarray(-3).toString(), '<E>');
    t.same(decryptPacket(L_KEY, packet), p);
  }
  t.throws(() => decryptPacket(L_KEY, Buffer.from('abcdefgh')), 'no terminator');
  const wrongKey = Buffer.alloc(24, 0x31);
  const packet = encryptPacket(L_KEY, Buffer.from('04<rc=2>OK<E>'));
  // A wrong key almost always leaves invalid padding; it must never round-trip.
  let roundTrip: Buffer | undefined;
  try {
    roundTrip = decryptPacket(wrongKey, packet);
  } catch {
    roundTrip = undefined;
  }
  t.not(roundTrip?.toString(), '04<rc=2>OK<E>');
});

t.test('framing', async (t) => {
  t.equal(plainFramer(Buffer.from('04<rc=2>OK')), undefined);
  t.equal(plainFramer(Buffer.from('04<rc=2>OK<E>')), 13);
  t.equal(plainFramer(Buffer.from('04<rc=2>OK<E>tail')), 13);
  const packet = encryptPacket(L_KEY, Buffer.from('hello'));
  t.equal(cipherFramer(packet), packet.length);
  t.equal(cipherFramer(packet.subarray(0, -1)), undefined, 'terminator not yet complete');
  // `<E>` inside the ciphertext, off a block boundary, does not end the packet.
  const inside = Buffer.concat([Buffer.from('abcd<E>x'), Buffer.alloc(8)]);
  t.equal(cipherFramer(inside.subarray(0, 7)), undefined);
  t.equal(cipherFramer(Buffer.concat([inside, Buffer.from('<E>')])), 19);
  t.equal(cipherFramer(Buffer.from('<E>')), undefined, 'an empty body is no packet');
});

t.test('PKCS#1 v1.5 unpadding', async (t) => {
  const block = (data: Buffer, k = 128) => {
    const ps = Buffer.alloc(k - 3 - data.length, 0x5a);
    return Buffer.concat([Buffer.from([0, 2]), ps, Buffer.from([0]), data]);
  };
  const nonce = crypto.randomBytes(16);
  t.same(unpadPkcs1Type2(block(nonce)), nonce);
  t.same(unpadPkcs1Type2(block(Buffer.alloc(0))), Buffer.alloc(0), 'empty message');
  t.same(unpadPkcs1Type2(block(Buffer.alloc(117, 1))), Buffer.alloc(117, 1), 'exactly 8 padding bytes');

  const malformed: Array<[string, Buffer]> = [
    ['first byte not 00', Buffer.concat([Buffer.from([1]), block(nonce).subarray(1)])],
    ['block type 01', Buffer.concat([Buffer.from([0, 1]), block(nonce).subarray(2)])],
    ['no separator', Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(126, 0x5a)])],
    ['7 padding bytes', Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(7, 0x5a), Buffer.from([0]), Buffer.alloc(118, 1)])],
    ['separator right after 00 02', Buffer.concat([Buffer.from([0, 2, 0]), Buffer.alloc(125, 1)])],
    ['too short', Buffer.from([0, 2, 1, 0])],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [what, em] of malformed) {
    t.throws(() => unpadPkcs1Type2(em), new RsaDecryptError(), what);
  }
  const messages = new Set<string>();
  for (const [, em] of malformed) {
    try {
      unpadPkcs1Type2(em);
    } catch (err) {
      messages.add(`${(err as Error).name}: ${(err as Error).message}`);
    }
  }
  t.equal(messages.size, 1, 'every malformed block gives the same error');
});

t.test('RSA decryption with our own unpadding reads what Node encrypts', async (t) => {
  const keys = await generateClientKeys();
  t.equal(keys.publicPem.length, 272, 'RSA-1024 SPKI PEM with its newline is 272 bytes');
  t.ok(keys.publicPem.endsWith('-----END PUBLIC KEY-----\n'));
  const nonce = crypto.randomBytes(16);
  const ct = crypto.publicEncrypt({ key: crypto.createPublicKey(keys.publicPem), padding: crypto.constants.RSA_PKCS1_PADDING }, nonce);
  t.same(decryptPkcs1(keys.privateKey, ct), nonce);
  t.throws(() => decryptPkcs1(keys.privateKey, ct.subarray(1)), new RsaDecryptError(), 'short ciphertext');
  t.throws(() => decryptPkcs1(keys.privateKey, Buffer.alloc(128, 0xff)), new RsaDecryptError(), 'above the modulus');
  // A raw RSA block without PKCS#1 structure.
  const raw = crypto.publicEncrypt({ key: crypto.createPublicKey(keys.publicPem), padding: crypto.constants.RSA_NO_PADDING }, Buffer.alloc(128, 7));
  t.throws(() => decryptPkcs1(keys.privateKey, raw), new RsaDecryptError(), 'bad padding');
});

t.test('parseSamEndpoint', async (t) => {
  t.same(parseSamEndpoint('cloudicap.nhi.gov.tw:443'), { host: 'cloudicap.nhi.gov.tw', port: 443 });
  t.same(parseSamEndpoint('127.0.0.1:9000'), { host: '127.0.0.1', port: 9000 });
  t.same(parseSamEndpoint('[::1]:443'), { host: '::1', port: 443 });
  t.same(parseSamEndpoint(' [2001:db8::5]:65535 '), { host: '2001:db8::5', port: 65535 });
  for (const bad of ['', 'host', 'host:', ':443', 'host:0', 'host:65536', 'host:44x', '::1:443', '[::1]443', '[host]:443', 'a b:1', '[::1:443', 'h:-1']) {
    t.throws(() => parseSamEndpoint(bad), /invalid SAM endpoint .*expected HOST:PORT/, JSON.stringify(bad));
  }
});

t.test("the service's pino logger is a SamLog: it gets each step's name and time, and the step that failed", async (t) => {
  const lines: string[] = [];
  // The assignment is type-checked by `tsc -p tsconfig.test.json` in npm test; the lines prove the logger is used.
  const logger: SamLog = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  t.equal(await timed(logger, 'connect', async () => 'up'), 'up');
  await t.rejects(timed(logger, 'challenge', async () => {
    throw new SamError('challenge', 'no answer');
  }), SamError);
  const [done, failed] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.match(done, { level: 20, step: 'connect', ms: Number, msg: 'SAM step done' });
  t.match(failed, { level: 20, step: 'challenge', ms: Number, failed: 'challenge', msg: 'SAM step failed' });
  t.equal(lines.length, 2);
});
