import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CardProfileJson, VirtualCard, type VirtualCardOptions, VPCD_PORTS } from './virtual-card.js';
import { loadWinscard, SCARD_STATE_MUTE, SCARD_STATE_PRESENT, SCARD_STATE_UNAWARE } from '../../src/pcsc/winscard.js';
import { acquireLock } from './lock.js';

/**
 * The real PC/SC stack for integration tests: Debian's pcscd with the vpcd
 * virtual reader driver, and virtual NHI cards connected to it. Nothing here
 * fakes PC/SC; the code under test talks to pcscd like on a user's machine.
 */

const QUICKACK_ADDR = '127.0.0.77';
const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

/**
 * Resolves once pcscd reports a card in reader, with its ATR: from then on a
 * program that asks PC/SC finds the card. pcscd powers a new card up before
 * it publishes the reader's state, so the power-on alone is too early.
 */
async function pcscSeesCard(reader: string, timeoutMs = 5_000): Promise<void> {
  const w = loadWinscard();
  const ctx = await w.establishContext();
  try {
    for (const deadline = Date.now() + timeoutMs; ; await sleep(10)) {
      const state = { reader, currentState: SCARD_STATE_UNAWARE, eventState: 0, atr: Buffer.alloc(0) };
      const rv = await w.getStatusChange(ctx, 0, [state]);
      if (state.eventState & SCARD_STATE_PRESENT && !(state.eventState & SCARD_STATE_MUTE) && state.atr.length > 0) return;
      if (Date.now() > deadline) {
        throw new Error(`pcscd did not report the card in ${reader} within ${timeoutMs} ms of its power-on (result 0x${(rv >>> 0).toString(16)}, state 0x${state.eventState.toString(16)}, ATR ${state.atr.length} bytes)`);
      }
    }
  } finally {
    await w.releaseContext(ctx);
  }
}

export function say(msg: string): void {
  process.stderr.write(`# [testbed] ${msg}\n`);
}

const isRoot = () => process.getuid?.() === 0;

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs pcscd and vpcd when missing (root only); otherwise says what is missing. */
export function ensurePackages(): void {
  const missing: string[] = [];
  if (!have('pcscd') && !fs.existsSync('/usr/sbin/pcscd')) missing.push('pcscd');
  if (!fs.existsSync(VPCD_DRIVER)) missing.push('vsmartcard-vpcd');
  if (missing.length === 0) return;
  if (!isRoot()) throw new Error(`the test bed needs ${missing.join(', ')}: run as root or apt-get install them`);
  say(`installing ${missing.join(' ')} with apt-get`);
  execFileSync('apt-get', ['update'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', ...missing], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** TCP ports something listens on, in this network namespace. */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[1]) ports.add(Number.parseInt(cols[1].split(':').pop()!, 16));
    }
  }
  return ports;
}

function pcscdPids(): number[] {
  const out = spawnSync('pgrep', ['-x', 'pcscd'], { encoding: 'utf8' });
  return out.stdout.split('\n').filter(Boolean).map(Number);
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`test bed: timed out waiting for ${what}`);
    await sleep(50);
  }
}

export interface PcscdOptions {
  /** Start pcscd with an empty reader configuration: a machine with no reader. */
  noReaders?: boolean;
}

export interface TestBed {
  /** A virtual card for slot 0 (port 35963) or 1 (35964), not yet inserted. */
  card(profile: CardProfileJson, options?: Omit<VirtualCardOptions, 'port' | 'localAddress'> & { slot?: 0 | 1 }): VirtualCard;
  /** Reader names as pcscd shows them. */
  readerName(slot: 0 | 1): string;
  /** Kill pcscd and start it again (cards reconnect by themselves). */
  restartPcscd(options?: PcscdOptions): Promise<void>;
  stopPcscd(): Promise<void>;
  startPcscd(options?: PcscdOptions): Promise<void>;
  /** The local address cards connect from. */
  cardAddress: string;
  stop(): Promise<void>;
}

export async function startTestBed(): Promise<TestBed> {
  ensurePackages();
  const release = await acquireLock('testbed');
  const cards: VirtualCard[] = [];
  let child: ChildProcess | undefined;
  let routeAdded = false;

  if (isRoot() && have('ip')) {
    const r = spawnSync('ip', ['route', 'add', 'local', `${QUICKACK_ADDR}/32`, 'dev', 'lo', 'table', 'local', 'quickack', '1'], { encoding: 'utf8' });
    if (r.status === 0) routeAdded = true;
    else if (!/File exists/.test(r.stderr)) say(`quick-ACK route not added (${r.stderr.trim()}): cards use the stock link, ~40 ms per APDU`);
  }
  const cardAddress = routeAdded || routeExists() ? QUICKACK_ADDR : '127.0.0.1';

  const startPcscd = async (options: PcscdOptions = {}) => {
    if (pcscdPids().length > 0) return;
    fs.mkdirSync('/run/pcscd', { recursive: true });
    const args = ['-f', ...(process.env.NHIICC_PCSCD_DEBUG ? ['-d', '-a'] : [])];
    if (options.noReaders) {
      args.push('-c', fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-noreaders-')));
      child = spawn('pcscd', args, { stdio: 'ignore' });
      child.unref();
      await waitFor('pcscd to start', () => fs.existsSync('/run/pcscd/pcscd.comm'), 10_000);
      await sleep(200);
      return;
    }
    child = spawn('pcscd', args, { stdio: process.env.NHIICC_PCSCD_DEBUG ? 'inherit' : 'ignore' });
    child.unref();
    const ports = VPCD_PORTS as readonly number[];
    await waitFor('pcscd to load the vpcd readers', () => ports.every((p) => listeningPorts().has(p)), 10_000);
  };
  const stopPcscd = async () => {
    for (const pid of pcscdPids()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    await waitFor('pcscd to stop', () => pcscdPids().length === 0, 10_000).catch(async () => {
      for (const pid of pcscdPids()) process.kill(pid, 'SIGKILL');
      await sleep(200);
    });
    child = undefined;
  };

  const readerName = (slot: 0 | 1) => `Virtual PCD 00 0${slot}`;
  // Rarely (seen once in many runs, right after another card left the same
  // reader) pcscd asks the new card for its ATR and then never reports it,
  // and that reader stays dead until pcscd restarts. That is pcscd and vpcd,
  // not the code under test: the bed restarts its own pcscd once and says so.
  const seenByPcsc = async (slot: 0 | 1) => {
    try {
      await pcscSeesCard(readerName(slot), 3_000);
    } catch (err) {
      if (foreign) throw err;
      say(`${(err as Error).message}: restarting pcscd once`);
      await stopPcscd();
      await startPcscd();
      await pcscSeesCard(readerName(slot));
    }
  };
  const foreign = pcscdPids().length > 0;
  if (foreign) say('a pcscd is already running: the tests use it and leave it running');
  await startPcscd();

  return {
    cardAddress,
    card(profile, options = {}) {
      const { slot = 0, ...rest } = options;
      const card = new VirtualCard(profile, { ...rest, port: VPCD_PORTS[slot], localAddress: cardAddress, seenByPcsc: () => seenByPcsc(slot) });
      cards.push(card);
      return card;
    },
    readerName,
    async restartPcscd(options) {
      await stopPcscd();
      await startPcscd(options);
    },
    stopPcscd,
    startPcscd,
    async stop() {
      for (const c of cards) await c.remove();
      if (!foreign || child) await stopPcscd();
      if (foreign && pcscdPids().length === 0) await startPcscd();
      if (routeAdded) spawnSync('ip', ['route', 'del', 'local', `${QUICKACK_ADDR}/32`, 'dev', 'lo', 'table', 'local']);
      release();
    },
  };
}

function routeExists(): boolean {
  const r = spawnSync('ip', ['route', 'show', 'table', 'local', `${QUICKACK_ADDR}/32`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(QUICKACK_ADDR);
}
