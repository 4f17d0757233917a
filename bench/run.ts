/**
 * npm run bench, on the real pcscd + vpcd stack with the virtual card on the
 * quick-ACK link (else we would measure vpcd's 40 ms Nagle delays):
 *
 * 1. The program as packages ship it, beside today's layout (tsc's dist/ with
 *    node_modules), in the same run: cold start to the first accepted wss
 *    connection (p50 of 10 starts, certificate already made, starts of the
 *    layouts taken in turn), idle RSS 10 s after start, the timer callbacks
 *    of an idle minute (no page connected, no reader change), app files.
 *    The bundle runs on this machine's node and on the Node the Linux
 *    packages carry (installers/node-runtime.ts), when it is in the cache.
 * 2. GetBasic over WSS against two floors (the same APDUs sent straight
 *    through the PC/SC binding on an open connection, and a bare TLS
 *    WebSocket server sending them through our card port), and concurrency.
 *    Every latency series runs in blocks taken in turn, so that drift hits
 *    all alike.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { bundle, BUNDLE_DIR, ENTRY, listFiles } from '../installers/bundle.js';
import { hostTarget, nodeRuntime } from '../installers/node-runtime.js';
import { SERVICE_NODE_OPTIONS } from '../src/server/service-node-options.js';
import { startTestBed } from '../test/bed/testbed.js';
import { expectedBasic, loadProfile } from '../test/helpers/profiles.js';
import { ask, openSocket } from '../test/helpers/served.js';

const BLOCKS = 6;
const PER_BLOCK = 50;
const WARMUP = 20;
const CLIENTS = 50;
const PER_CLIENT = 20;
const COLD_STARTS = 10;
const RSS_AT_MS = 10_000;
const IDLE_WINDOW_MS = 60_000;

const TARGETS = { coldMs: 250, rssMb: 55, timerEveryS: 60, appFiles: 20 };

const REPO = path.resolve(import.meta.dirname, '..');
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (n: number) => `${n.toFixed(2)} ms`;
const now = () => performance.now();
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

/** One latency series: `take(n)` runs n rounds and returns their times (ms). */
interface Series {
  take(n: number): Promise<number[]>;
  close(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
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

/** A way to run the daemon: which node, which program, how many files it is. */
interface Layout {
  name: string;
  node: string;
  cli: string;
  appFiles: number;
}

let nextPort = 17000 + Math.floor(Math.random() * 2000);

interface Daemon {
  child: ChildProcess;
  port: number;
  ca: string;
  /** From spawn to the first accepted wss connection. */
  coldMs: number;
  /** CPU time (user + system) the daemon had used by then. */
  coldCpuMs: number;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU time (user + system) a process has used, from /proc/<pid>/stat (utime, stime in clock ticks). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** The daemon as the service definitions run it, with extra node options (preloads) before the program. */
async function startDaemon(layout: Layout, configDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  const port = nextPort++;
  const t0 = now();
  const child = spawn(layout.node, [...SERVICE_NODE_OPTIONS, ...extra, layout.cli, 'serve', '--port', String(port), '--config-dir', configDir, '--log-level', 'warn'], {
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
  for (;;) {
    try {
      const ws = await openSocket(port, ca);
      const coldMs = now() - t0;
      const coldCpuMs = cpuMs(child.pid!);
      await ask(ws, 'GetVersion');
      ws.close();
      return { child, port, ca, coldMs, coldCpuMs };
    } catch {
      if (child.exitCode !== null) throw new Error(`${layout.name}: the daemon exited ${child.exitCode}`);
      if (now() - t0 > 10_000) throw new Error(`${layout.name}: the daemon did not accept a connection within 10 s`);
      await sleep(2);
    }
  }
}

async function stopDaemon(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  await exited(d.child);
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Files of today's layout: tsc's dist/ (not the bundle or packages) and the production node_modules. */
function todaysAppFiles(): number {
  const dist = listFiles(path.join(REPO, 'dist')).filter((f) => !/^(bundle|installers)\//.test(f)).length;
  const packages = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO, encoding: 'utf8', maxBuffer: 16 << 20 })
    .split('\n')
    .filter((p) => p.includes(`${path.sep}node_modules${path.sep}`));
  const inPackages = new Set<string>();
  for (const p of packages) for (const f of listFiles(p)) if (!f.split(path.sep).includes('node_modules')) inPackages.add(path.join(p, f));
  return dist + inPackages.size + fs.readdirSync(path.join(REPO, 'html')).length + 2; // + package.json, README.md
}

interface TimerFired {
  fired: number;
  intervalMs: number;
  repeat: boolean;
  where: string;
}

const bed = await startTestBed();
const daemons: Daemon[] = [];
try {
  console.log(`card link: ${bed.cardAddress === '127.0.0.77' ? 'quick-ACK loopback (127.0.0.77)' : 'stock loopback: expect ~40 ms per APDU from vpcd'}`);
  console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the start (other work on the machine slows cold starts)`);
  const chen = loadProfile('chen');
  const card = bed.card(chen);
  await card.insert();
  const want = `GetBasic:${expectedBasic(chen)}`;

  const { files: bundleFiles } = await bundle();
  const layouts: Layout[] = [
    { name: `today: tsc dist/ + node_modules, Node ${process.versions.node}`, node: process.execPath, cli: path.join(REPO, 'dist', 'cli.js'), appFiles: todaysAppFiles() },
    { name: `bundle, Node ${process.versions.node}`, node: process.execPath, cli: path.join(BUNDLE_DIR, ENTRY), appFiles: bundleFiles.length + 1 },
  ];
  try {
    const packaged = nodeRuntime(hostTarget());
    layouts.push({ name: `bundle, Node ${packaged.version} (the packages' runtime)`, node: packaged.binary, cli: path.join(BUNDLE_DIR, ENTRY), appFiles: bundleFiles.length + 1 });
  } catch (err) {
    console.log(`the packages' Node runtime is not measured: ${(err as Error).message.split('\n')[0]} (npm run package -- deb fetches it)`);
  }

  // The certificate is made once at install time; cold start is measured with it in place.
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-bench-'));
  execFileSync(process.execPath, ['dist/cli.js', 'cert', 'init', '--config-dir', configDir], { stdio: 'ignore' });

  // 1a. Cold starts, the layouts in turn.
  const cold = layouts.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let round = 0; round < COLD_STARTS; round++) {
    for (const [i, layout] of layouts.entries()) {
      const d = await startDaemon(layout, configDir);
      cold[i]!.wall.push(d.coldMs);
      cold[i]!.cpu.push(d.coldCpuMs);
      await stopDaemon(d);
    }
  }

  // 2. Latency and concurrency, on the bundle as this machine's node runs it (the floors run on it too).
  const served = await startDaemon(layouts[1]!, configDir);
  daemons.push(served);
  const series = {
    wss: await wssSeries(served.port, served.ca, (r) => r === want),
    floor: loopFloor('bench/floor.ts', bed.readerName(0)),
    wssFloor: await wssFloor(bed.readerName(0), configDir, served.ca, chen.cardNo),
  };
  const times = { wss: [] as number[], floor: [] as number[], wssFloor: [] as number[] };
  for (const s of Object.values(series)) await s.take(WARMUP);
  for (let block = 0; block < BLOCKS; block++) {
    for (const key of Object.keys(series) as Array<keyof typeof series>) times[key].push(...(await series[key].take(PER_BLOCK)));
  }
  for (const s of Object.values(series)) await s.close();
  const { wss, floor: floorTimes, wssFloor: wssFloorTimes } = times;

  const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => openSocket(served.port, served.ca)));
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
  for (const s of sockets) s.close();
  await stopDaemon(daemons.pop()!);

  // 1b. Idle: per layout one daemon for its memory and one whose timers are
  // counted (the counting itself costs memory), each asked one GetVersion;
  // then nothing touches the card or the readers for a minute.
  const reports = layouts.map((_, i) => path.join(configDir, `timers-${i}.json`));
  const plain: Daemon[] = [];
  for (const [i, layout] of layouts.entries()) {
    plain.push(await startDaemon(layout, configDir));
    daemons.push(
      await startDaemon(layout, configDir, ['--require', path.join(REPO, 'bench', 'count-timers.cjs')], {
        NHIICC_TIMER_WINDOW: `${RSS_AT_MS}:${IDLE_WINDOW_MS}`,
        NHIICC_TIMER_REPORT: reports[i],
      }),
    );
  }
  daemons.push(...plain);
  const idleStart = now();
  await sleep(RSS_AT_MS);
  const idleRss = plain.map((d) => rssMb(d.child.pid!));
  while (!reports.every((r) => fs.existsSync(r)) && now() - idleStart < RSS_AT_MS + IDLE_WINDOW_MS + 20_000) await sleep(500);
  const timers = reports.map((r) => (fs.existsSync(r) ? (JSON.parse(fs.readFileSync(r, 'utf8')) as TimerFired[]) : undefined));
  // What the first card read adds (the Big5 tables stay), for the record.
  const afterRead: number[] = [];
  for (const d of plain) {
    const ws = await openSocket(d.port, d.ca);
    await ask(ws, 'GetBasic');
    ws.close();
    await sleep(2000);
    afterRead.push(rssMb(d.child.pid!));
  }
  for (const d of daemons.splice(0)) await stopDaemon(d);
  fs.rmSync(configDir, { recursive: true, force: true });

  const ratio = pct(wss, 50) / pct(wssFloorTimes, 50);
  console.log(`GetBasic over WSS      p50 ${ms(pct(wss, 50))}  p95 ${ms(pct(wss, 95))}  (${wss.length} rounds, in ${BLOCKS} blocks interleaved with the floors; the bundle on Node ${process.versions.node})`);
  console.log(`floor (PC/SC binding, back to back) p50 ${ms(pct(floorTimes, 50))}  p95 ${ms(pct(floorTimes, 95))}`);
  console.log(`bare TLS WebSocket server p50 ${ms(pct(wssFloorTimes, 50))}  p95 ${ms(pct(wssFloorTimes, 95))}  (no framework, no protocol: the same APDUs through our card port, raw answers back)`);
  console.log(`its p50 ratio to the floor ${(pct(wssFloorTimes, 50) / pct(floorTimes, 50)).toFixed(2)}  (what any wss:// component reaches on this machine)`);
  console.log(`daemon p50 ratio to the bare server ${ratio.toFixed(2)}  (target ≤ 1.25: what the daemon's own code adds)`);
  console.log(`daemon p50 ratio to the floor ${(pct(wss, 50) / pct(floorTimes, 50)).toFixed(2)}`);
  console.log(`${CLIENTS} clients × ${PER_CLIENT} GetBasic: ${((CLIENTS * PER_CLIENT) / elapsed).toFixed(0)} req/s, errors ${errors}, wrong answers ${wrong}  (target 0, 0)`);
  console.log('');
  console.log(
    `targets: cold start ≤ ${TARGETS.coldMs} ms (p50 of ${COLD_STARTS}), idle RSS ≤ ${TARGETS.rssMb} MB (${RSS_AT_MS / 1000} s after start), no timer firing more often than every ${TARGETS.timerEveryS} s while idle, ≤ ${TARGETS.appFiles} app files`,
  );
  for (const [i, layout] of layouts.entries()) {
    const fired = timers[i];
    const busiest = fired && fired.length > 0 ? fired.reduce((a, b) => (b.fired > a.fired || (b.fired === a.fired && b.intervalMs < a.intervalMs) ? b : a)) : undefined;
    const tooOften = fired?.filter((f) => f.fired > 1 || (f.repeat && f.intervalMs < TARGETS.timerEveryS * 1000)) ?? [];
    console.log(`${layout.name}`);
    console.log(`  cold start to first accepted wss connection  p50 ${ms(pct(cold[i]!.wall, 50))}  min ${ms(Math.min(...cold[i]!.wall))}  max ${ms(Math.max(...cold[i]!.wall))}  (CPU used by then p50 ${ms(pct(cold[i]!.cpu, 50))})`);
    console.log(`  idle RSS ${idleRss[i]!.toFixed(1)} MB  (after one GetBasic: ${afterRead[i]!.toFixed(1)} MB)`);
    console.log(
      fired === undefined
        ? '  timers in an idle minute: no report (the daemon ended early?)'
        : `  timers in an idle minute: ${fired.reduce((n, f) => n + f.fired, 0)} callbacks from ${fired.length} timers${busiest ? `; busiest every ${(busiest.intervalMs / 1000).toFixed(0)} s${busiest.repeat ? ' (repeating)' : ''}, set at ${busiest.where}` : ''}${tooOften.length ? `; MORE OFTEN THAN EVERY ${TARGETS.timerEveryS} s: ${tooOften.map((f) => f.where).join('; ')}` : ''}`,
    );
    console.log(`  app files ${layout.appFiles}`);
  }
  if (errors || wrong) process.exitCode = 1;
} finally {
  for (const d of daemons) d.child.kill('SIGKILL');
  await bed.stop();
}
