/**
 * npm run bench: GetBasic over WSS against the floor (the same APDUs sent
 * straight through pcsclite on an open connection), concurrency, cold start
 * and idle memory, on the real pcscd + vpcd stack with the virtual card on the
 * quick-ACK link (else we would measure vpcd's 40 ms Nagle delays).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { READ_BASIC_PROFILE, READ_CARD_DATA, SELECT_NHI } from '../src/card/apdu.js';
import { startTestBed } from '../test/bed/testbed.js';
import { expectedBasic, loadProfile } from '../test/helpers/profiles.js';
import { ask, openSocket, serve } from '../test/helpers/served.js';

const ROUNDS = 300;
const CLIENTS = 50;
const PER_CLIENT = 20;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (n: number) => `${n.toFixed(2)} ms`;
const now = () => performance.now();

async function floor(readerName: string): Promise<number[]> {
  const pcsc = createRequire(import.meta.url)('pcsclite')();
  pcsc.on('error', () => undefined); // close() cancels its status wait with an error
  const reader = await new Promise<any>((resolve) =>
    pcsc.on('reader', (r: any) => {
      r.on('error', () => undefined);
      if (r.name === readerName) resolve(r);
    }),
  );
  await new Promise((r) => setTimeout(r, 300));
  const protocol: number = await new Promise((resolve, reject) =>
    reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err: unknown, p: number) => (err ? reject(err) : resolve(p))),
  );
  const tx = (apdu: Buffer) => new Promise<Buffer>((resolve, reject) => reader.transmit(apdu, 4096, protocol, (e: unknown, d: Buffer) => (e ? reject(e) : resolve(d))));
  const times: number[] = [];
  for (let i = 0; i < ROUNDS + 20; i++) {
    const t0 = now();
    await tx(SELECT_NHI);
    await tx(READ_BASIC_PROFILE);
    await tx(READ_CARD_DATA);
    if (i >= 20) times.push(now() - t0);
  }
  await new Promise((r) => reader.disconnect(reader.SCARD_LEAVE_CARD, r));
  reader.close();
  pcsc.close();
  return times;
}

async function coldStartAndRss(): Promise<{ coldMs: number; rssMb: number }> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-bench-'));
  // The certificate is made once at install time; cold start is measured with it in place.
  const warm = await serve({ configDir, logLevel: 'warn' });
  await warm.close();
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  const port = 17000 + Math.floor(Math.random() * 2000);
  const t0 = now();
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--config-dir', configDir, '--log-level', 'warn'], { stdio: 'ignore' });
  let coldMs = NaN;
  for (;;) {
    try {
      const ws = await openSocket(port, ca);
      coldMs = now() - t0;
      await ask(ws, 'GetVersion');
      ws.close();
      break;
    } catch {
      if (now() - t0 > 10_000) break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  child.kill('SIGTERM');
  fs.rmSync(configDir, { recursive: true, force: true });
  return { coldMs, rssMb };
}

const bed = await startTestBed();
try {
  console.log(`card link: ${bed.cardAddress === '127.0.0.77' ? 'quick-ACK loopback (127.0.0.77)' : 'stock loopback: expect ~40 ms per APDU from vpcd'}`);
  const chen = loadProfile('chen');
  const card = bed.card(chen);
  await card.insert();
  const want = `GetBasic:${expectedBasic(chen)}`;

  const floorTimes = await floor(bed.readerName(0));

  const served = await serve({ logLevel: 'warn' });
  const ws = await served.connect();
  for (let i = 0; i < 20; i++) await ask(ws, 'GetBasic');
  const wss: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = now();
    const r = await ask(ws, 'GetBasic');
    wss.push(now() - t0);
    if (r !== want) throw new Error(`wrong answer: ${r.slice(0, 12)}…`);
  }
  ws.close();

  const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => served.connect()));
  let errors = 0;
  let wrong = 0;
  const t0 = now();
  await Promise.all(
    sockets.map(async (s) => {
      for (let i = 0; i < PER_CLIENT; i++) {
        try {
          const r = await ask(s, 'GetBasic', 60_000);
          if (r !== want) wrong++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (now() - t0) / 1000;
  sockets.forEach((s) => s.close());
  await served.close();

  const { coldMs, rssMb } = await coldStartAndRss();

  const ratio = pct(wss, 50) / pct(floorTimes, 50);
  console.log(`GetBasic over WSS      p50 ${ms(pct(wss, 50))}  p95 ${ms(pct(wss, 95))}  (${ROUNDS} rounds)`);
  console.log(`floor (pcsclite APDUs) p50 ${ms(pct(floorTimes, 50))}  p95 ${ms(pct(floorTimes, 95))}`);
  console.log(`p50 ratio              ${ratio.toFixed(2)}  (target ≤ 1.5)`);
  console.log(`${CLIENTS} clients × ${PER_CLIENT} GetBasic: ${((CLIENTS * PER_CLIENT) / elapsed).toFixed(0)} req/s, errors ${errors}, wrong answers ${wrong}  (target 0, 0)`);
  console.log(`cold start to first accepted connection ${ms(coldMs)}  (target ≤ 1000 ms)`);
  console.log(`idle RSS ${rssMb.toFixed(1)} MB  (target ≤ 80 MB)`);
  if (errors || wrong) process.exitCode = 1;
} finally {
  await bed.stop();
}
