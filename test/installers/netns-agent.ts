// Runs in a booted container's network namespace with this machine's files
// (BootedSystem.spawnInNetwork): the project's virtual NHI card as a client
// of the container's vpcd, and a browser's side of wss://iccert.nhi.gov.tw:7777
// against the container's service. The test drives it over stdin/stdout, one
// JSON object per line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { VirtualCard } from '../bed/virtual-card.js';
import { loadProfile } from '../helpers/profiles.js';
import { ask, openSocket } from '../helpers/served.js';
import type { BootedSystem } from '../rootfs/booted.js';
import { REPO } from './helpers.js';

/** vpcd answers each APDU ~40 ms late on plain loopback; a quick-ACK route to this address avoids it (see test/bed). */
const QUICK_ACK = '127.0.0.77';

type Op = { op: 'insert' } | { op: 'remove' } | { op: 'ask'; messages: string[]; ca: string };
type Request = { id: number } & Op;

async function main(): Promise<void> {
  // This namespace is the container's own: the route goes with it.
  const route = spawnSync('ip', ['route', 'add', 'local', `${QUICK_ACK}/32`, 'dev', 'lo', 'table', 'local', 'quickack', '1'], { encoding: 'utf8' });
  const card = new VirtualCard(loadProfile('chen'), route.status === 0 ? { localAddress: QUICK_ACK } : {});
  const write = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('close', () => void card.remove().finally(() => process.exit(0)));
  for await (const line of lines) {
    const req = JSON.parse(line) as Request;
    try {
      if (req.op === 'insert') write({ id: req.id, result: await card.insert(20_000) });
      else if (req.op === 'remove') write({ id: req.id, result: await card.remove() });
      else {
        const ws = await openSocket(7777, fs.readFileSync(req.ca, 'utf8'));
        try {
          const replies: string[] = [];
          for (const m of req.messages) replies.push(await ask(ws, m, 30_000));
          write({ id: req.id, result: replies });
        } finally {
          ws.close();
        }
      }
    } catch (err) {
      write({ id: req.id, error: (err as Error).message ?? String(err) });
    }
  }
}

/** The test's end of an agent in system's network namespace. */
export class NetnsAgent {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly child;

  constructor(system: BootedSystem) {
    this.child = system.spawnInNetwork([process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id: number; result?: unknown; error?: string };
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error !== undefined) w?.reject(new Error(msg.error));
      else w?.resolve(msg.result);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the agent exited (${code})`));
      this.waiting.clear();
    });
  }

  private call<T>(req: Op): Promise<T> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  insertCard(): Promise<void> {
    return this.call({ op: 'insert' });
  }

  removeCard(): Promise<void> {
    return this.call({ op: 'remove' });
  }

  /** Sends messages in order on one wss connection, trusting only the CA bundle at ca (a host path). */
  ask(messages: string[], ca: string): Promise<string[]> {
    return this.call({ op: 'ask', messages, ca });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
