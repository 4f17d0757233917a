import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { SERVICE_NODE_OPTIONS } from '../../src/server/service-node-options.js';
import { CA_FILE, ensureServerCertificate } from '../../src/tls/certificates.js';
import { startTestBed } from '../bed/testbed.js';
import { CLI } from '../helpers/cli.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { ask, GOV_ORIGIN, openSocket } from '../helpers/served.js';
import { FakeSam } from '../sam/fake-sam.js';
import { digits, nextMove, prng, type Rng } from './fuzz-moves.js';
import { frame, OP, rawConnect, type RawSocket } from './raw-ws.js';

/**
 * A bounded fuzz run against the service as users run it (its own process,
 * the built CLI, the service's node options) on the real PC/SC stack. Three
 * phases: mutated frames from 32 connections at once, floods from pages that
 * never read their replies, connections dropped in the middle of commands.
 * After each, a new connection must get GetBasic right within 2 s. Through
 * it all the service's memory stays within 50 MB of its start, and its log
 * within one line per connection plus one per answered command, with nothing
 * at error level. The whole run stops by itself within 3 minutes.
 */

const FRAMES = 100_000;
const WORKERS = 32;
const RSS_SLACK_MB = 50;
/** Lines the service writes that belong to no connection: start, readers, cards. */
const SERVICE_LINES = 20;
const SEED = Number(process.env.NHIICC_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

const chen = loadProfile('chen');
const BASIC = `GetBasic:${expectedBasic(chen)}`;

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function waitFor(ok: () => boolean, timeoutMs: number, raw?: RawSocket): Promise<boolean> {
  if (ok()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (result: boolean) => {
      clearTimeout(timer);
      if (raw) raw.onEvent = undefined;
      resolve(result);
    };
    const timer = setTimeout(() => done(ok()), timeoutMs);
    if (raw) {
      raw.onEvent = () => ok() && done(true);
      void raw.ended.then(() => done(ok()));
    }
  });
}

t.test('bounded fuzz on the real stack', { timeout: 180_000 }, async (t) => {
  const started = Date.now();
  t.comment(`seed ${SEED} (NHIICC_FUZZ_SEED=${SEED} repeats this run)`);
  const bed = await startTestBed();
  t.teardown(() => bed.stop());
  const sam = await FakeSam.start({ cards: { [chen.cardNo]: chen.secret! } });
  t.teardown(() => sam.close());
  const card = bed.card(chen);
  await card.insert();

  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-fuzz-'));
  t.teardown(() => fs.rmSync(configDir, { recursive: true, force: true }));
  await ensureServerCertificate(configDir);
  const ca = fs.readFileSync(path.join(configDir, CA_FILE), 'utf8');
  const port = await freePort();
  // The log goes to files, as a journal takes it: a pipe read by this busy
  // process would make the service buffer its lines and grow.
  const logFile = path.join(configDir, 'service.log');
  const errFile = path.join(configDir, 'service.err');
  const service: ChildProcess = spawn(
    process.execPath,
    [...SERVICE_NODE_OPTIONS, CLI, 'serve', '--port', String(port), '--config-dir', configDir, '--sam', `127.0.0.1:${sam.port}`],
    { stdio: ['ignore', fs.openSync(logFile, 'w'), fs.openSync(errFile, 'w')] },
  );
  t.teardown(() => {
    service.kill('SIGKILL');
  });

  let connections = 0;
  const connectWs = () => {
    connections++;
    return openSocket(port, ca);
  };
  const raw = (o: { read?: boolean; origin?: string; host?: string } = {}) => {
    connections++;
    return rawConnect({ port, ca, origin: GOV_ORIGIN, ...o });
  };

  // Up, and the card read once (the first read also probes the card).
  for (let i = 0; ; i++) {
    try {
      const ws = await connectWs();
      t.equal(await ask(ws, 'GetBasic'), BASIC, 'the service reads the card');
      ws.close();
      break;
    } catch (err) {
      if (i > 200) throw err;
      await sleep(50);
    }
  }
  // Its start: up, and one page served the way the official page goes.
  {
    const ws = await connectWs();
    t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
    const random = (await ask(ws, 'GetRandom')).slice('GetRandom:'.length);
    t.match(await ask(ws, `H_Sign?Random=0001${random}`), /^H_Sign:.{256}$/, 'and signs through the SAM');
    t.match(await ask(ws, 'EnCrypt?Pwd=123456'), /^EnCrypt:/);
    t.match(await ask(ws, 'SecureGetBasicWithParam?Pwd=123456'), /^SecureGetBasicWithParam:/);
    ws.close();
  }
  await sleep(500);
  const rssStart = rssMb(service.pid!);
  let rssMax = rssStart;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(service.pid!))), 100);
  t.teardown(() => clearInterval(sampler));

  const probe = async (after: string) => {
    const t0 = Date.now();
    const ws = await connectWs();
    const reply = await ask(ws, 'GetBasic', 2000).catch((err: Error) => err.message);
    const ms = Date.now() - t0;
    ws.close();
    t.equal(reply, BASIC, `after ${after}: a new connection gets GetBasic right`);
    t.ok(ms <= 2000, `after ${after}: within 2 s (${ms} ms)`);
    t.comment(`RSS now ${rssMb(service.pid!).toFixed(1)} MB, at most ${rssMax.toFixed(1)} MB so far`);
  };

  // Phase 1: mutated frames from 32 pages at once, each allowed up to 64 unanswered.
  const rng = prng(SEED);
  let sent = 0;
  let stalls = 0;
  const kinds = new Map<string, number>();
  const worker = async (r: Rng) => {
    while (sent < FRAMES) {
      // Now and then a page from a refused origin or with a bad Host.
      const odd = r.int(100);
      let ws: RawSocket;
      try {
        ws = await raw(odd === 0 ? { origin: 'https://evil.example' } : odd === 1 ? { host: 'evil.example' } : {});
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status !== 403 && status !== 421) throw err;
        continue;
      }
      const window = r.pick([1, 2, 4, 8, 16, 64]);
      let owed = 0;
      while (sent < FRAMES && ws.closeCode === undefined && !ws.socket.destroyed) {
        const move = nextMove(r);
        kinds.set(move.kind, (kinds.get(move.kind) ?? 0) + 1);
        for (const f of move.frames) ws.write(f);
        sent += move.frames.length;
        owed += move.replies;
        if (move.fatal) break;
        // Wait for replies while the window is full; the server may close us (1008).
        const room = () => ws.replies >= owed - window + 1 || ws.closeCode !== undefined;
        if (!(await waitFor(room, 5000, ws))) {
          stalls++;
          break;
        }
      }
      // The server closes on the fatal frame or the overfull window; a page that is done just goes.
      if (ws.closeCode === undefined && !ws.socket.destroyed && sent < FRAMES) await waitFor(() => ws.closeCode !== undefined, 2000, ws);
      ws.destroy();
    }
  };
  const phase1 = Date.now();
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(prng(SEED + 1 + i))));
  t.comment(`phase 1: ${sent} frames in ${((Date.now() - phase1) / 1000).toFixed(1)} s over ${connections} connections; ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  t.ok(sent >= FRAMES, `${sent} mutated frames sent`);
  t.equal(stalls, 0, 'no page waited 5 s for a reply it was owed');
  await probe('the mutated frames');

  // Phase 2: pages that flood and never read a reply.
  const flood = async (i: number) => {
    const ws = await raw({ read: false });
    const command = Buffer.from(i % 2 ? 'GetVersion' : 'GetBasic');
    const until = Date.now() + 3000;
    let n = 0;
    while (Date.now() < until && !ws.socket.destroyed) {
      if (!ws.write(frame(OP.text, command))) await Promise.race([new Promise((r) => ws.socket.once('drain', r)), sleep(200)]);
      if (++n % 100 === 0) await sleep(0);
    }
    ws.destroy();
    return n;
  };
  const flooded = await Promise.all(Array.from({ length: 8 }, (_, i) => flood(i)));
  t.comment(`phase 2: ${flooded.reduce((a, b) => a + b, 0)} frames from 8 pages that never read`);
  await probe('unread floods');

  // Phase 3: pages that go away in the middle of their commands.
  let dropped = 0;
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        const ws = await raw();
        for (let k = 1 + rng.int(8); k > 0; k--) ws.write(frame(OP.text, Buffer.from(rng.next() < 0.05 ? `H_Sign?Random=0001${digits(rng, 16)}` : 'GetBasic')));
        await sleep(rng.int(20));
        ws.destroy();
        dropped++;
      }),
    );
  }
  t.comment(`phase 3: ${dropped} connections dropped mid-command`);
  await probe('connections dropped mid-command');

  clearInterval(sampler);
  t.comment(`RSS: ${rssStart.toFixed(1)} MB at the start, at most ${rssMax.toFixed(1)} MB`);
  t.ok(rssMax - rssStart <= RSS_SLACK_MB, `RSS within ${RSS_SLACK_MB} MB of its start (+${(rssMax - rssStart).toFixed(1)} MB)`);

  // The log: one line per answered command, at most one other per connection.
  await sleep(500);
  const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
  const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; reqId?: string });
  const answered = parsed.filter((l) => l.msg === 'command').length;
  const others = parsed.filter((l) => l.msg !== 'command');
  const perConnection = new Map<string, number>();
  for (const l of others) if (l.reqId) perConnection.set(l.reqId, (perConnection.get(l.reqId) ?? 0) + 1);
  const unattached = others.filter((l) => !l.reqId);
  t.comment(`log: ${lines.length} lines, ${answered} answered commands, ${others.length} others, for ${connections} connections`);
  t.ok(lines.length <= connections + answered + SERVICE_LINES, `log within one line per connection plus one per answered command (${lines.length} ≤ ${connections} + ${answered} + ${SERVICE_LINES})`);
  t.ok(Math.max(0, ...perConnection.values()) <= 1, 'at most one line per connection besides its commands');
  t.ok(unattached.length <= SERVICE_LINES, `${unattached.length} lines of the service itself`);
  t.same(parsed.filter((l) => l.level >= 50), [], 'nothing at error level');
  t.notOk(lines.some((l) => l.includes('"stack"')), 'no stack traces');
  t.equal(fs.readFileSync(errFile, 'utf8'), '', 'nothing on stderr');
  t.equal(service.exitCode, null, 'the service is still running');
  t.ok(Date.now() - started < 180_000, `done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
