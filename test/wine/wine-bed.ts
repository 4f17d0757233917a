import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listeningPorts } from '../bed/testbed.js';
import { VPCD_PORTS } from '../bed/virtual-card.js';
import { ensureLayer, overlay, type RootfsSpec } from '../rootfs/rootfs.js';

/**
 * Windows for the tests, on Linux: Debian 13's Wine 10 in a chroot, whose
 * winscard.dll forwards to the chroot's pcsc-lite, with the chroot's own
 * pcscd and vpcd. Everything here mounts and starts inside the private
 * mount, network and pid namespaces the test made for it
 * (windows-msi.test.ts): the host's pcscd, ports and mounts are never seen,
 * and what is left running dies with the namespaces.
 */

export const WINE_ROOTFS: RootfsSpec = {
  name: 'wine',
  suite: 'trixie',
  variant: 'apt',
  include: ['wine', 'wine64', 'pcscd', 'vsmartcard-vpcd', 'libpcsclite1'],
};

/** A loopback address whose route acknowledges at once: vpcd's replies then take 0.3 ms, not 40 (test/bed). */
export const QUICKACK_ADDR = '127.0.0.77';

const PREFIX = '/root/.wine';
const ENV = [
  'PATH=/usr/local/bin:/usr/bin:/bin',
  'HOME=/root',
  'LANG=C.UTF-8',
  `WINEPREFIX=${PREFIX}`,
  // No Mono, no Gecko: wineboot would ask to fetch them, and there is no network.
  'WINEDLLOVERRIDES=mscoree,mshtml=',
  'WINEDEBUG=fixme-all',
  'XDG_RUNTIME_DIR=/run/user/0',
];

export interface WineResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface WineProcess {
  child: ChildProcess;
  /** Linux paths of its stdout and stderr files. */
  stdoutFile: string;
  stderrFile: string;
  stdout(): string;
  stderr(): string;
}

export interface WineBed {
  /** The chroot: the Debian 13 tree, the prefix layer and this run's changes. */
  root: string;
  /** The Linux path of a Windows path on C: (the prefix's drive_c) or Z: (the chroot's /). */
  hostPath(windowsPath: string): string;
  /** Runs a Windows program to its end. */
  run(args: string[], timeoutMs?: number): Promise<WineResult>;
  /**
   * Starts a Windows program that keeps running. Its stdin is a pipe nobody
   * writes to: a program that reads it waits until the bed stops.
   */
  start(args: string[]): WineProcess;
  stop(): Promise<void>;
}

const say = (msg: string) => process.stderr.write(`# [wine] ${msg}\n`);

function mountChrootFilesystems(root: string): void {
  execFileSync('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);
  execFileSync('mount', ['--rbind', '/dev', path.join(root, 'dev')]);
  execFileSync('mount', ['-t', 'sysfs', 'sysfs', path.join(root, 'sys')]);
  // A private /run holds this pcscd's socket (/run/pcscd) and nothing of the host's.
  for (const d of ['tmp', 'run']) execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(root, d)]);
  fs.mkdirSync(path.join(root, 'run', 'pcscd'));
  fs.mkdirSync(path.join(root, 'run', 'user', '0'), { recursive: true, mode: 0o700 });
}

function chrootArgs(root: string, args: string[]): string[] {
  return [root, '/usr/bin/env', '-i', ...ENV, ...args];
}

/** A command in the chroot, to its end; output to files (a pipe kills Node under Wine). */
function runIn(root: string, args: string[], name: string, timeoutMs: number): Promise<WineResult> {
  const p = startIn(root, args, name);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')}: no end after ${timeoutMs} ms; stderr: ${p.stderr().slice(-2000)}`));
    }, timeoutMs);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: p.stdout(), stderr: p.stderr() });
    });
  });
}

let runs = 0;
function startIn(root: string, args: string[], name: string, stdin: 'ignore' | 'pipe' = 'ignore'): WineProcess {
  const base = path.join(root, 'tmp', `${++runs}-${name.replace(/[^\w.-]+/g, '_').slice(0, 40)}`);
  const [stdoutFile, stderrFile] = [`${base}.out`, `${base}.err`];
  const out = fs.openSync(stdoutFile, 'w');
  const err = fs.openSync(stderrFile, 'w');
  const child = spawn('chroot', chrootArgs(root, args), { stdio: [stdin, out, err] });
  fs.closeSync(out);
  fs.closeSync(err);
  const read = (f: string) => fs.readFileSync(f, 'utf8');
  return { child, stdoutFile, stderrFile, stdout: () => read(stdoutFile), stderr: () => read(stderrFile) };
}

/**
 * The Wine prefix (wineboot: about 20 s, 770 MB) as a layer over the root
 * filesystem, made once. Reusing it is safe: each run sees it through an
 * overlay of its own and never changes it, and it is kept per root
 * filesystem, so a new Wine gets a new prefix.
 */
function ensurePrefix(rootfs: string): string {
  return ensureLayer(rootfs, 'wineprefix', (root) => {
    mountChrootFilesystems(root);
    execFileSync('chroot', chrootArgs(root, ['wineboot', '--init']), { stdio: 'ignore', timeout: 300_000 });
    execFileSync('chroot', chrootArgs(root, ['wineserver', '--wait']), { stdio: 'ignore', timeout: 60_000 });
  });
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`Wine test bed: timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Must run inside private mount, network and pid namespaces (see the file comment). */
export async function startWineBed(rootfs: string): Promise<WineBed> {
  const prefix = ensurePrefix(rootfs);
  const o = overlay(rootfs, 'wine', [prefix]);
  const root = o.root;
  let pcscd: ChildProcess | undefined;
  const stop = async () => {
    // Ends every Windows process of this prefix, then the daemon; the
    // namespaces' end would too, this is only tidier.
    await runIn(root, ['wineserver', '--kill'], 'wineserver-kill', 30_000).catch(() => undefined);
    pcscd?.kill('SIGTERM');
    await sleep(200);
    o.remove();
  };
  try {
    mountChrootFilesystems(root);
    execFileSync('ip', ['link', 'set', 'lo', 'up']);
    execFileSync('ip', ['route', 'add', 'local', `${QUICKACK_ADDR}/32`, 'dev', 'lo', 'table', 'local', 'quickack', '1']);
    // Debian 13's pcscd asks polkit, which this chroot does not run.
    pcscd = startIn(root, ['/usr/sbin/pcscd', '--foreground', '--disable-polkit'], 'pcscd').child;
    await waitFor('pcscd to load the vpcd readers', () => VPCD_PORTS.every((p) => listeningPorts().has(p)), 10_000);
    // The prefix's services start once and stay, instead of with every program.
    const server = await runIn(root, ['wineserver', '--persistent'], 'wineserver', 10_000);
    if (server.code !== 0) throw new Error(`wineserver failed: ${server.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }
  say(`chroot ${root}, prefix layer ${prefix}`);

  return {
    root,
    hostPath(windowsPath) {
      const m = /^([CZ]):\\?(.*)$/i.exec(windowsPath);
      if (!m) throw new Error(`not a path on C: or Z:: ${windowsPath}`);
      const rest = m[2]!.split('\\').filter(Boolean);
      return m[1]!.toUpperCase() === 'C' ? path.join(root, PREFIX, 'drive_c', ...rest) : path.join(root, ...rest);
    },
    run: (args, timeoutMs = 120_000) => runIn(root, ['wine', ...args], path.basename(args[0]!.replace(/\\/g, '/')), timeoutMs),
    start: (args) => startIn(root, ['wine', ...args], path.basename(args[0]!.replace(/\\/g, '/')), 'pipe'),
    stop,
  };
}

/** CPU time (user + system, ms) a process of this pid namespace has used so far. */
export function cpuTimeMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Pids of this pid namespace whose command line contains every one of words. */
export function pidsOf(...words: string[]): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (words.every((w) => cmdline.includes(w))) pids.push(Number(entry));
  }
  return pids;
}
