import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type WebSocket from 'ws';
import { SamError } from '../../src/sam/errors.js';
import { GIVE_UP_GRACE_MS } from '../../src/protocol/commands.js';
import { MAX_UNANSWERED } from '../../src/server/echo-route.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { HEADERS, memoryApp } from '../helpers/memory-app.js';
import { ask, closed, GOV_ORIGIN } from '../helpers/served.js';

/**
 * The echo route in memory (fastify's injectWS, a fake card layer): how one
 * connection's commands are bounded, ordered, dropped and timed out, and what
 * the log says. The same on the real stack: abuse.test.ts and fuzz.test.ts.
 */

const BASIC = `GetBasic:${expectedBasic(loadProfile('chen'))}`;

/** Every message the socket gets, in order. */
function replies(ws: WebSocket): string[] {
  const got: string[] = [];
  ws.on('message', (d) => got.push(d.toString()));
  return got;
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

t.test('one connection: one command at a time, replies in order', async (t) => {
  const { card, connect } = await memoryApp(t);
  const ws = await connect();
  const got = replies(ws);
  for (const text of ['GetBasic', 'GetVersion', 'EnCrypt?Pwd=123456', 'Hello', 'GetRandom', 'GetBasic']) ws.send(text);
  await until('six replies', () => got.length === 6);
  t.match(got, [BASIC, 'GetVersion:0001', /^EnCrypt:[0-9A-F]+$/, '9999', /^GetRandom:\d{16}$/, BASIC]);
  t.equal(card.maxPending, 1, 'never more than one operation of the connection at the card layer');
  ws.terminate();
});

t.test(`${MAX_UNANSWERED} unanswered commands are served; one more closes with 1008 and drops the queue`, async (t) => {
  const { card, connect, log } = await memoryApp(t);
  card.apduMs = 30;
  const ok = await connect();
  const got = replies(ok);
  for (let i = 0; i < MAX_UNANSWERED; i++) ok.send('GetBasic');
  await until(`${MAX_UNANSWERED} replies`, () => got.length === MAX_UNANSWERED);
  t.same(new Set(got), new Set([BASIC]));
  ok.terminate();

  card.started = 0;
  card.signals.length = 0;
  const ws = await connect();
  const lost = replies(ws);
  for (let i = 0; i <= MAX_UNANSWERED; i++) ws.send('GetBasic');
  t.equal(await closed(ws), 1008);
  await sleep(300);
  t.ok(card.started <= 1, `at most the command already running reached the card (${card.started})`);
  t.ok(card.signals.every((s) => s?.aborted), 'and it was told to stop');
  t.same(lost, [], 'no reply after the close');
  const lines = log().filter((l) => l.level >= 40);
  t.equal(lines.length, 1, 'one warn line');
  t.match(lines[0], { level: 40, origin: GOV_ORIGIN, count: MAX_UNANSWERED + 1, msg: /unanswered/ });
});

/** A page with 5 GetBasic queued leaves as `leave` says, once the first is at the card. */
async function leaveWithBacklog(t: Test, leave: (ws: WebSocket) => void) {
  const app = await memoryApp(t);
  app.card.apduMs = 40;
  const ws = await app.connect();
  for (let i = 0; i < 5; i++) ws.send('GetBasic');
  await until('the first operation at the card', () => app.card.apdus === 1);
  leave(ws);
  await sleep(400);
  t.equal(app.card.started, 1, 'the four queued commands never reached the card');
  return app;
}

t.test('a connection that closes: its queued commands never start, the running one stops', async (t) => {
  const { card, log } = await leaveWithBacklog(t, (ws) => ws.terminate());
  t.ok(card.apdus < 3, `the running one stopped before its last APDU (${card.apdus} sent)`);
  t.match(log(), [{ level: 30, dropped: 5, msg: /dropped/ }]);
});

t.test('a page that sends its close frame: its queued commands never start', async (t) => {
  await leaveWithBacklog(t, (ws) => ws.close());
});

t.test('fair turns: a second connection waits for at most one operation of a busy one', async (t) => {
  const { card, connect } = await memoryApp(t);
  card.apduMs = 10; // GetBasic: 3 APDUs, about 30 ms
  const busy = await connect();
  let stop = false;
  let busyReplies = 0;
  busy.on('message', () => {
    busyReplies++;
    if (!stop) busy.send('GetBasic');
  });
  for (let i = 0; i < MAX_UNANSWERED; i++) busy.send('GetBasic');
  await sleep(100);
  const other = await connect();
  const times: number[] = [];
  const overtaken: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = busyReplies;
    const started = performance.now();
    t.equal(await ask(other, 'GetBasic'), BASIC);
    times.push(performance.now() - started);
    overtaken.push(busyReplies - before);
  }
  stop = true;
  t.comment(`GetBasic beside a connection with ${MAX_UNANSWERED} queued: ${times.map((x) => x.toFixed(0)).join(', ')} ms`);
  t.ok(Math.max(...overtaken) <= 2, `the busy connection answered at most 2 commands meanwhile (${overtaken.join(', ')})`);
  t.ok(Math.max(...times) < 150, 'well under the 8 operations of the busy connection (240 ms)');
  t.ok(card.maxPending <= 2, `at most one operation per connection at the card layer (${card.maxPending})`);
  busy.terminate();
  other.terminate();
});

t.test('the deadline: the card layer stops at the signal, the page gets 8013, the next command works', async (t) => {
  const { card, connect } = await memoryApp(t, { deadlineMs: 100 });
  card.apduMs = 80;
  const ws = await connect();
  const started = performance.now();
  t.equal(await ask(ws, 'GetBasic'), '8013');
  const ms = performance.now() - started;
  t.ok(ms >= 100 && ms < 100 + GIVE_UP_GRACE_MS, `answered at the next APDU after the deadline (${ms.toFixed(0)} ms)`);
  t.equal(card.apdus, 2, 'the third APDU was never sent');
  card.apduMs = 1;
  t.equal(await ask(ws, 'GetBasic'), BASIC);
  ws.terminate();
});

t.test('the deadline: a card stuck inside one APDU still gets its page an answer; the next command waits for the card', async (t) => {
  const { card, connect } = await memoryApp(t, { deadlineMs: 100 });
  let unstick!: () => void;
  card.stuck = new Promise((r) => (unstick = r));
  const ws = await connect();
  const started = performance.now();
  t.equal(await ask(ws, 'GetBasic'), '8013');
  const ms = performance.now() - started;
  t.ok(ms >= 100 + GIVE_UP_GRACE_MS - 5 && ms < 100 + GIVE_UP_GRACE_MS + 300, `8013 at the deadline plus the grace (${ms.toFixed(0)} ms)`);
  const next = ask(ws, 'GetBasic');
  await sleep(200);
  t.equal(card.maxPending, 1, 'the next command is not queued at the card beside the stuck one');
  card.stuck = undefined;
  unstick();
  t.equal(await next, BASIC, 'and runs once the card answers again');
  ws.terminate();
});

t.test("H_Sign: the command's signal reaches the SAM, whose own code wins", async (t) => {
  const signals: AbortSignal[] = [];
  const sign = (_value: string, signal: AbortSignal) =>
    new Promise<string>((_, reject) => {
      signals.push(signal);
      signal.addEventListener('abort', () => reject(new SamError('challenge', 'stopped')));
    });
  const { connect } = await memoryApp(t, { deadlineMs: 150, sign });
  const ws = await connect();
  const started = performance.now();
  t.equal(await ask(ws, 'H_Sign?Random=00011234567890123456'), '8005');
  t.ok(performance.now() - started < 150 + GIVE_UP_GRACE_MS, 'at the deadline, without waiting for the grace');
  ws.send('H_Sign?Random=00011234567890123456');
  await until('the second H_Sign to start', () => signals.length === 2);
  ws.terminate();
  await until('its signal to abort', () => signals[1]!.aborted, 1000);
  t.pass('closing the connection stops the signing');
});

t.test('a failing step: the page still gets its reply, later commands theirs', async (t) => {
  let broken = true;
  const { card, connect, log } = await memoryApp(t, {
    onLine: (line) => {
      if (broken && line.includes('"command":"GetRandom"')) {
        broken = false;
        throw new Error('log destination failed');
      }
    },
  });
  const ws = await connect();
  t.match(await ask(ws, 'GetRandom'), /^GetRandom:\d{16}$/, 'replied before the step failed');
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001', 'the chain goes on');
  t.match(log(), [{ level: 50, msg: 'command step failed', err: { message: 'log destination failed' } }, { command: 'GetVersion' }]);
  card.failNext = new TypeError('a bug in the card layer');
  t.equal(await ask(ws, 'GetBasic'), '8201', 'a card layer fault is a service error');
  t.equal(await ask(ws, 'GetBasic'), BASIC);
  ws.terminate();
});

t.test('client faults: one line per connection at warn, no stack, nothing at error level', async (t) => {
  const { connect, log } = await memoryApp(t);
  const cases: Array<[string, (ws: WebSocket) => void, number]> = [
    ['invalid UTF-8', (ws) => ws.send(Buffer.from([0x47, 0x65, 0x74, 0xc3, 0x28]), { binary: false }), 1007],
    ['over 4 KiB', (ws) => ws.send('x'.repeat(5000)), 1009],
    ['binary', (ws) => ws.send(Buffer.from('GetVersion'), { binary: true }), 1003],
  ];
  for (const [what, send, code] of cases) {
    const ws = await connect();
    for (let i = 0; i < 3; i++) send(ws);
    t.equal(await closed(ws), code, what);
  }
  const exit = await connect();
  for (let i = 0; i < 3; i++) exit.send('Exit');
  t.equal(await ask(exit, 'GetVersion'), 'GetVersion:0001');
  exit.terminate();
  await t.rejects(connect({ ...HEADERS, origin: 'https://evil.example' }), /403/);
  await sleep(100);
  const lines = log();
  t.same(
    lines.filter((l) => l.level >= 40).map((l) => l.level),
    [40, 40, 40, 40, 40],
    'one warn line for each of the five connections',
  );
  t.match(lines.filter((l) => l.level >= 40), [{ code: 'WS_ERR_INVALID_UTF8' }, { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }, { msg: /binary/ }, { msg: /Exit ignored/ }, { msg: 'origin refused' }]);
  t.notMatch(JSON.stringify(lines), /"stack"/, 'no stack traces');
});

t.test('a 5xx is logged with its cause', async (t) => {
  const { app, card, log } = await memoryApp(t);
  card.status = () => {
    throw new Error('status broke');
  };
  const res = await app.inject({ method: 'GET', url: '/status.json', headers: { host: HEADERS.host } });
  t.equal(res.statusCode, 500);
  t.notMatch(res.body, /status broke/, 'the cause stays in the log');
  t.match(log(), [{ level: 50, msg: 'request failed', url: '/status.json', err: { message: 'status broke' } }]);
});
