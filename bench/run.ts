/**
 * npm run bench: GetBasic over WSS against two floors (the same APDUs sent
 * straight through the PC/SC binding on an open connection, and a bare TLS
 * WebSocket server sending them through our card port), concurrency, cold start
 * and idle memory, on the real pcscd + vpcd stack with the virtual card on the
 * quick-ACK link (else we would measure vpcd's 40 ms Nagle delays). Every
 * latency series runs in blocks taken in turn, so that drift hits all alike.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { SERVICE_NODE_OPTIONS } from '../src/server/service-node-options.js';
import { startTestBed } from '../test/bed/testbed.js';
import { expectedBasic, loadProfile } from '../test/helpers/profiles.js';
import { ask, openSocket } from '../test/helpers/served.js';

const BLOCKS = 6;
const PER_BLOCK = 50;
const WARMUP = 20;
const CLIENTS = 50;
const PER_CLIENT = 20;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (n: number) => `${n.toFixed(2)} ms`;
const now = () => performance.now();

/** One latency series: `take(n)` runs n rounds and returns their times (ms). */
interface Series {
  take(n: number): Promise<number[]>;
  close(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** A back-to-back floor in its own process (floor-rounds.ts); the virtual card stays in this one. */
function loopFloor(script: string, readerName: string): Series {
  const child = spawn(process.execPath, ['--import', 'tsx', script, readerName], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pending: Array<{ resolve: (times: number[]) => void; reject: (err: Error) => void }> = [];
  readline.createInterface({ input: child.stdout! }).on('line', (line) => pending.shift()?.resolve(JSON.parse(line) as number[]));
  child.on('exit', (code) => {
    for (const p of pending.splice(0)) p.reject(new Error(`${script} exited ${code}`));
  });
  return {
    take: (n) =>
      new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        child.stdin!.write(`${n}\n`);
      }),
    close: async () => {
      child.stdin!.end();
      await exited(child);
    },
  };
}

/** GetBasic round trips over one WSS connection, every answer checked. */
async function wssSeries(port: number, ca: string, isRight: (reply: string) => boolean, close = async () => undefined): Promise<Series> {
  const ws = await openSocket(port, ca);
  return {
    take: async (n) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = now();
        const r = await ask(ws, 'GetBasic');
        times.push(now() - t0);
        if (!isRight(r)) throw new Error(`wrong answer: ${r.slice(0, 12)}…`);
      }
      return times;
    },
    close: async () => {
      ws.close();
      await close();
    },
  };
}

/** The bare TLS WebSocket floor (floor-wss.ts): its answer is the card's raw bytes. */
async function wssFloor(readerName: string, configDir: string, ca: string, cardNo: string): Promise<Series> {
  const child = spawn(process.execPath, [...SERVICE_NODE_OPTIONS, '--import', 'tsx', 'bench/floor-wss.ts', readerName, configDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`floor-wss.ts exited ${code}`)));
  });
  return wssSeries(port, ca, (r) => r.startsWith('GetBasic:') && r.includes(cardNo), async () => {
    child.stdin.end();
    await exited(child);
  });
}

/** The daemon as users run it: its own process, the built CLI, the service definitions' node options. */
async function startDaemon(configDir: string, port: number): Promise<{ child: ChildProcess; ca: string; coldMs: number }> {
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  const t0 = now();
  const child = spawn(process.execPath, [...SERVICE_NODE_OPTIONS, 'dist/cli.js', 'serve', '--port', String(port), '--config-dir', configDir, '--log-level', 'warn'], { stdio: 'ignore' });
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

  // The certificate is made once at install time; cold start is measured with it in place.
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-bench-'));
  const certInit = spawn(process.execPath, ['dist/cli.js', 'cert', 'init', '--config-dir', configDir], { stdio: 'ignore' });
  await new Promise((r) => certInit.on('exit', r));
  const port = 17000 + Math.floor(Math.random() * 2000);
  const { child, ca, coldMs } = await startDaemon(configDir, port);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = rssMb(child.pid!);

  // Blocks of each series in turn: the machine's drift over the run (large on
  // a shared VM) then weighs on every series alike instead of on the ratio.
  const series = {
    wss: await wssSeries(port, ca, (r) => r === want),
    floor: loopFloor('bench/floor.ts', bed.readerName(0)),
    wssFloor: await wssFloor(bed.readerName(0), configDir, ca, chen.cardNo),
  };
  const times = { wss: [] as number[], floor: [] as number[], wssFloor: [] as number[] };
  for (const s of Object.values(series)) await s.take(WARMUP);
  for (let block = 0; block < BLOCKS; block++) {
    for (const key of Object.keys(series) as Array<keyof typeof series>) times[key].push(...(await series[key].take(PER_BLOCK)));
  }
  for (const s of Object.values(series)) await s.close();
  const { wss, floor: floorTimes, wssFloor: wssFloorTimes } = times;

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

  const ratio = pct(wss, 50) / pct(wssFloorTimes, 50);
  console.log(`GetBasic over WSS      p50 ${ms(pct(wss, 50))}  p95 ${ms(pct(wss, 95))}  (${wss.length} rounds, in ${BLOCKS} blocks interleaved with the floors)`);
  console.log(`floor (PC/SC binding, back to back) p50 ${ms(pct(floorTimes, 50))}  p95 ${ms(pct(floorTimes, 95))}`);
  console.log(`bare TLS WebSocket server p50 ${ms(pct(wssFloorTimes, 50))}  p95 ${ms(pct(wssFloorTimes, 95))}  (no framework, no protocol: the same APDUs through our card port, raw answers back)`);
  console.log(`its p50 ratio to the floor ${(pct(wssFloorTimes, 50) / pct(floorTimes, 50)).toFixed(2)}  (what any wss:// component reaches on this machine)`);
  console.log(`daemon p50 ratio to the bare server ${ratio.toFixed(2)}  (target ≤ 1.25: what the daemon's own code adds)`);
  console.log(`daemon p50 ratio to the floor ${(pct(wss, 50) / pct(floorTimes, 50)).toFixed(2)}`);
  console.log(`${CLIENTS} clients × ${PER_CLIENT} GetBasic: ${((CLIENTS * PER_CLIENT) / elapsed).toFixed(0)} req/s, errors ${errors}, wrong answers ${wrong}  (target 0, 0)`);
  console.log(`cold start to first accepted connection ${ms(coldMs)}  (target ≤ 1000 ms)`);
  console.log(`idle RSS ${idleRss.toFixed(1)} MB  (target ≤ 80 MB)`);
  if (errors || wrong) process.exitCode = 1;
} finally {
  await bed.stop();
}
