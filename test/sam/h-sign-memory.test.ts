import { spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { NHI_CARD } from '../../src/card/operations.js';
import type { CardAccess, CardAccessOptions } from '../../src/pcsc/card-readers.js';
import { hSign, type SamOptions } from '../../src/sam/h-sign.js';
import { type CardProfileJson, VirtualCard } from '../bed/virtual-card.js';
import { loadProfile } from '../helpers/profiles.js';
import { FakeSam, type FakeSamMode } from './fake-sam.js';
import { codeOf, FAILURE_MODES, signValue as value } from './helpers.js';

/**
 * The SAM conversation against the fake SAM with the virtual card answering
 * in memory: protocol edge cases, fast. The same paths through real pcscd
 * are in h-sign.test.ts.
 */

const chen = loadProfile('chen');
const cardId = chen.cardId ?? chen.cardNo;

function memoryCard(profile: CardProfileJson): CardAccess & { uses: number; signal?: AbortSignal | undefined } {
  const vc = new VirtualCard(profile);
  let queue: Promise<unknown> = Promise.resolve();
  const access = {
    uses: 0,
    signal: undefined as AbortSignal | undefined,
    withCard<T>(op: (tx: (apdu: Buffer) => Promise<Buffer>, reader: string) => Promise<T>, options?: CardAccessOptions): Promise<T> {
      access.signal = options?.signal;
      const run = queue.then(async () => {
        access.uses++;
        const transmit = async (apdu: Buffer) => vc.answer(apdu);
        await NHI_CARD.accepts(transmit);
        return op(transmit, 'memory');
      });
      queue = run.catch(() => undefined);
      return run;
    },
    status: () => ({ available: true, readers: [] }),
    close: async () => undefined,
  };
  return access;
}

t.test('H_Sign against the fake SAM, card in memory', async (t) => {
  const fake = await FakeSam.start({ cards: { [cardId]: chen.secret! } });
  t.teardown(() => fake.close());
  const card = memoryCard(chen);
  const opts: SamOptions = { ...fake.endpoint, connectTimeoutMs: 500, replyTimeoutMs: 500 };

  t.test('signs', async (t) => {
    const v = value();
    const sig = await hSign(card, v, opts);
    t.equal(sig.length, 256);
    t.ok(fake.verify(v, sig), 'the fake accepts its signature of this value');
    t.notOk(fake.verify(value(), sig), 'and not for another value');
    t.same(fake.errors, []);
  });

  t.test('replies split across TCP segments, inside <E>', async (t) => {
    fake.mode = 'drip';
    t.teardown(() => {
    fake.mode = 'ok';
  });
    const v = value();
    t.ok(fake.verify(v, await hSign(card, v, opts)));
  });

  for (const [mode, code] of FAILURE_MODES) {
    t.test(`${mode} → ${code}`, async (t) => {
      fake.mode = mode;
      t.teardown(() => {
    fake.mode = 'ok';
  });
      const started = Date.now();
      t.equal(await codeOf(hSign(card, value(), opts)), code);
      t.ok(Date.now() - started < 500 + 400, `within the reply timeout (${Date.now() - started} ms)`);
    });
  }

  t.test('a card the SAM does not know → 8005', async (t) => {
    const stranger = memoryCard({ ...chen, cardId: '000000000001' });
    t.equal(await codeOf(hSign(stranger, value(), opts)), '8005');
  });

  t.test('a card whose answer is wrong → 8008', async (t) => {
    const forged = memoryCard({ ...chen, secret: 'ff'.repeat(16) });
    t.equal(await codeOf(hSign(forged, value(), opts)), '8008');
  });

  t.test('a connection dropped mid-read fails at once, not at the timeout', async (t) => {
    fake.mode = 'closeMidExchange';
    t.teardown(() => {
    fake.mode = 'ok';
  });
    const started = Date.now();
    t.equal(await codeOf(hSign(card, value(), { ...opts, replyTimeoutMs: 5000 })), '8005');
    t.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
  });

  t.test('a signal stops the signing at once, with the code of the step under way', async (t) => {
    t.teardown(() => {
    fake.mode = 'ok';
  });
    const patient = { ...opts, connectTimeoutMs: 5000, replyTimeoutMs: 5000 };
    const steps: Array<[FakeSamMode, string]> = [
      ['silent', '8305'],
      ['silentAfterRequest', '8005'],
      ['silentAfterAnswer', '8008'],
    ];
    for (const [mode, code] of steps) {
      fake.mode = mode;
      const stop = new AbortController();
      setTimeout(() => stop.abort(new Error('the deadline passed')), 150);
      const started = Date.now();
      t.equal(await codeOf(hSign(card, value(), { ...patient, signal: stop.signal })), code, mode);
      t.ok(Date.now() - started < 400, `${mode}: stopped at the signal, not at the 5 s timeout (${Date.now() - started} ms)`);
      if (mode !== 'silent') t.equal(card.signal, stop.signal, `${mode}: the card layer got the signal`);
    }
    fake.mode = 'ok';
    const v = value();
    t.ok(fake.verify(v, await hSign(card, v, opts)), 'the card is free for the next signing');

    const before = fake.connections;
    const gone = new AbortController();
    gone.abort(new Error('the page went away'));
    t.equal(await codeOf(hSign(card, value(), { ...opts, signal: gone.signal })), '4061', 'already stopped');
    await new Promise((r) => setTimeout(r, 50));
    t.equal(fake.connections, before, 'the SAM is not contacted');
  });

  t.test('a bad value never reaches the SAM nor the card', async (t) => {
    const before = fake.connections;
    const uses = card.uses;
    for (const bad of ['', '0001', `0002${'1'.repeat(16)}`, `0001${'1'.repeat(15)}a`, `0001${'1'.repeat(17)}`, `0001${'１'.repeat(16)}`, `0001 ${'1'.repeat(15)}`]) {
      t.equal(await codeOf(hSign(card, bad, opts)), '8008', JSON.stringify(bad));
    }
    t.equal(await codeOf(hSign(card, undefined as unknown as string, opts)), '8008', 'undefined');
    t.equal(fake.connections, before, 'no connection');
    t.equal(card.uses, uses, 'no card access');
  });

  t.test('logs name steps and the step that failed, never card data or the signature', async (t) => {
    const lines: string[] = [];
    const rec = (obj: object, msg?: string) => void lines.push(JSON.stringify({ ...obj, msg }));
    const v = value();
    const sig = await hSign(card, v, { ...opts, log: { debug: rec } });
    fake.mode = 'rejectCard';
    t.teardown(() => {
    fake.mode = 'ok';
  });
    await codeOf(hSign(card, value(), { ...opts, log: { debug: rec } }));
    const all = lines.join('\n');
    t.match(all, /"step":"handshake"/);
    t.match(all, /"step":"challenge"/);
    t.match(all, /"failed":"signature"/);
    t.notOk(all.includes(cardId), 'no card id');
    t.notOk(all.includes(sig), 'no signature');
    t.notOk(all.includes(chen.secret!), 'no secret');
  });

  t.test('two at once both get their own signature', async (t) => {
    const [a, b] = [value(), value()];
    const [sa, sb] = await Promise.all([hSign(card, a, opts), hSign(card, b, opts)]);
    t.ok(fake.verify(a, sa));
    t.ok(fake.verify(b, sb));
  });
});

t.test('a closed port → 4061', async (t) => {
  const closed = await FakeSam.start({ cards: {}, mode: 'refuse' });
  const started = Date.now();
  t.equal(await codeOf(hSign(memoryCard(chen), value(), { ...closed.endpoint, connectTimeoutMs: 500, replyTimeoutMs: 500 })), '4061');
  t.ok(Date.now() - started < 500);
});

/** A port whose accept queue is full: Linux drops further SYNs, so a connect hangs. */
const FULL_BACKLOG = `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(port, flush=True)
time.sleep(60)
`;

// Node cannot hold a listener without accepting; python3 can.
const havePython = spawnSync('python3', ['-c', '1']).status === 0;

t.test('a connect that never completes → 4061 at the connect timeout', { skip: havePython ? false : 'needs python3' }, async (t) => {
  const child = spawn('python3', ['-c', FULL_BACKLOG], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill());
  const port = Number(await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
  const started = Date.now();
  const code = await codeOf(hSign(memoryCard(chen), value(), { host: '127.0.0.1', port, connectTimeoutMs: 300, replyTimeoutMs: 300 }));
  const elapsed = Date.now() - started;
  t.equal(code, '4061');
  t.ok(elapsed >= 250 && elapsed < 300 + 300, `${elapsed} ms`);
});

t.test('an unresolvable host → 4061', async (t) => {
  t.equal(await codeOf(hSign(memoryCard(chen), value(), { host: 'sam.invalid', port: 443, connectTimeoutMs: 2000 })), '4061');
});
