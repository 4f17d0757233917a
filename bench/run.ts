/**
 * npm run bench: GetBasic over WSS against the floor (the same APDUs sent
 * straight through pcsclite on an open connection), concurrency, cold start
 * and idle memory, on the real pcscd + vpcd stack with the virtual card on the
 * quick-ACK link (else we would measure vpcd's 40 ms Nagle delays).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTestBed } from '../test/bed/testbed.js';
import { expectedBasic, loadProfile } from '../test/helpers/profiles.js';
import { ask, openSocket } from '../test/helpers/served.js';

const ROUNDS = 300;
const CLIENTS = 50;
const PER_CLIENT = 20;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (n: number) => `${n.toFixed(2)} ms`;
const now = () => performance.now();

/** Runs a floor script in its own process; the virtual card stays in this one. */
function floor(readerName: string, script = 'bench/floor.ts'): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, readerName, String(ROUNDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`floor exited ${code}`))));
  });
}

/** The served floor: one round per request over loopback TCP, timed here like a WSS round trip. */
async function servedFloor(readerName: string): Promise<number[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/floor.ts', readerName, '0', 'served'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`served floor exited ${code}`)));
  });
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((r) => socket.once('connect', r));
  const times: number[] = [];
  for (let i = 0; i < ROUNDS + 20; i++) {
    const t0 = now();
    socket.write('g');
    await new Promise((r) => socket.once('data', r));
    if (i >= 20) times.push(now() - t0);
  }
  socket.destroy();
  await new Promise((r) => child.once('exit', r));
  return times;
}

/** The daemon as users run it: its own process, the built CLI. */
async function startDaemon(configDir: string, port: number): Promise<{ child: ChildProcess; ca: string; coldMs: number }> {
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  const t0 = now();
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--config-dir', configDir, '--log-level', 'warn'], { stdio: 'ignore' });
  for (;;) {
    try {
      const ws = await openSocket(port, ca);
      const coldMs = now() - t0;
      await ask(ws, 'GetVersion');
      ws.close();
      return { child, ca, coldMs };
    } catch {
      if (now() - t0 > 10_000) throw new Error('the daemon did not accept a connection within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const bed = await startTestBed();
try {
  console.log(`card link: ${bed.cardAddress === '127.0.0.77' ? 'quick-ACK loopback (127.0.0.77)' : 'stock loopback: expect ~40 ms per APDU from vpcd'}`);
  const chen = loadProfile('chen');
  const card = bed.card(chen);
  await card.insert();
  const want = `GetBasic:${expectedBasic(chen)}`;

  const floorTimes = await floor(bed.readerName(0));
  const txFloorTimes = await floor(bed.readerName(0), 'bench/floor-transactions.ts');
  const servedFloorTimes = await servedFloor(bed.readerName(0));

  // The certificate is made once at install time; cold start is measured with it in place.
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-bench-'));
  const certInit = spawn(process.execPath, ['dist/cli.js', 'cert', 'init', '--config-dir', configDir], { stdio: 'ignore' });
  await new Promise((r) => certInit.on('exit', r));
  const port = 17000 + Math.floor(Math.random() * 2000);
  const { child, ca, coldMs } = await startDaemon(configDir, port);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rssMb(child.pid!);

  const ws = await openSocket(port, ca);
  for (let i = 0; i < 20; i++) await ask(ws, 'GetBasic');
  const wss: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = now();
    const r = await ask(ws, 'GetBasic');
    wss.push(now() - t0);
    if (r !== want) throw new Error(`wrong answer: ${r.slice(0, 12)}…`);
  }
  ws.close();

  const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => openSocket(port, ca)));
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
  child.kill('SIGTERM');
  fs.rmSync(configDir, { recursive: true, force: true });
  const rssMbValue = idleRss;

  const ratio = pct(wss, 50) / pct(floorTimes, 50);
  console.log(`GetBasic over WSS      p50 ${ms(pct(wss, 50))}  p95 ${ms(pct(wss, 95))}  (${ROUNDS} rounds)`);
  console.log(`floor (pcsclite APDUs) p50 ${ms(pct(floorTimes, 50))}  p95 ${ms(pct(floorTimes, 95))}`);
  console.log(`p50 ratio              ${ratio.toFixed(2)}  (target ≤ 1.5)`);
  console.log(`floor in a transaction p50 ${ms(pct(txFloorTimes, 50))}  p95 ${ms(pct(txFloorTimes, 95))}  (the same APDUs in a transaction, in one call, as the daemon sends them)`);
  console.log(`p50 ratio to that      ${(pct(wss, 50) / pct(txFloorTimes, 50)).toFixed(2)}`);
  console.log(`floor served on request p50 ${ms(pct(servedFloorTimes, 50))}  p95 ${ms(pct(servedFloorTimes, 95))}  (the pcsclite APDUs, each round woken by one byte over loopback TCP, as a page's frame wakes the daemon)`);
  console.log(`p50 ratio to that      ${(pct(wss, 50) / pct(servedFloorTimes, 50)).toFixed(2)}`);
  console.log(`${CLIENTS} clients × ${PER_CLIENT} GetBasic: ${((CLIENTS * PER_CLIENT) / elapsed).toFixed(0)} req/s, errors ${errors}, wrong answers ${wrong}  (target 0, 0)`);
  console.log(`cold start to first accepted connection ${ms(coldMs)}  (target ≤ 1000 ms)`);
  console.log(`idle RSS ${rssMbValue.toFixed(1)} MB  (target ≤ 80 MB)`);
  if (errors || wrong) process.exitCode = 1;
} finally {
  await bed.stop();
}
