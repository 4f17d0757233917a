import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunOptions as CommandOptions, RunResult } from '../../src/util/runner.js';
import { type RootfsSpec, say, type Suite, TEST_CACHE } from './rootfs.js';

/**
 * A Debian root filesystem booted with systemd as PID 1 (systemd-nspawn -b),
 * for tests of what a real installation does: services, users, polkit,
 * reboots. It has loopback only (--private-network), so nothing in it
 * touches the host's ports, and is driven through nsenter into its PID 1
 * (machinectl needs machined on the host, which a test machine may lack).
 */

/** A tree that boots: systemd, D-Bus, and curl and ip for looking around inside. */
export function bootableSpec(suite: Suite, include: string[] = []): RootfsSpec {
  return {
    name: `booted-${suite}`,
    suite,
    include: ['systemd', 'systemd-sysv', 'dbus', 'curl', 'iproute2', ...include],
    // mmdebstrap copies the host's name and writes no hosts file.
    customize: [
      'echo nhiicc-test > "$1/etc/hostname"',
      `printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\tnhiicc-test\\n::1\\t\\tlocalhost ip6-localhost ip6-loopback\\n' > "$1/etc/hosts"`,
    ],
  };
}

export type { RunResult };

export interface RunOptions extends CommandOptions {
  timeoutMs?: number;
}

// Debian 13's systemd needs the unified cgroup hierarchy; fine for 12 too.
const NSPAWN_ENV = { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' };
const INSIDE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'HOME=/root', 'TERM=dumb'];

function runProcess(cmd: string, args: string[], opts: RunOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (signal ? `\n(killed by ${signal}${timer ? ` after ${opts.timeoutMs} ms` : ''})` : '');
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/** Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup, or .../unified on hybrid hosts). */
function cgroup2Root(): string {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4]!;
  }
  throw new Error('no cgroup2 hierarchy mounted: systemd-nspawn cannot run here');
}

/**
 * One cgroup per nspawn run: with --keep-unit nspawn splits the cgroup it
 * starts in, so it must not be the test's own; it also lets a stuck
 * container be killed as a whole.
 */
class Cgroup {
  readonly dir: string;
  constructor(name: string) {
    this.dir = path.join(cgroup2Root(), 'nhiicc-test', `${name}-${process.pid}-${Date.now()}`);
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** argv, started inside this cgroup. */
  wrap(argv: string[]): [string, string[]] {
    return ['sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.dir, ...argv]];
  }

  populated(): boolean {
    try {
      return /^populated 1$/m.test(fs.readFileSync(path.join(this.dir, 'cgroup.events'), 'utf8'));
    } catch {
      return false;
    }
  }

  kill(): void {
    try {
      fs.writeFileSync(path.join(this.dir, 'cgroup.kill'), '1');
    } catch {
      /* gone already, or a kernel without cgroup.kill */
    }
  }

  /** Removes this cgroup and what nspawn made in it; only empty ones can go. */
  remove(): void {
    const rm = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(path.join(dir, e.name));
      try {
        fs.rmdirSync(dir);
      } catch {
        /* still populated: said by the caller */
      }
    };
    if (fs.existsSync(this.dir)) rm(this.dir);
  }
}

/**
 * Runs one command in a non-booted container on the host's network (for
 * downloads), in its own cgroup.
 */
export async function runInTree(root: string, argv: string[], nspawnArgs: string[] = [], opts: RunOptions & { lock?: string } = {}): Promise<RunResult> {
  const cg = new Cgroup(path.basename(path.dirname(root)));
  try {
    const nspawn = ['systemd-nspawn', '-q', '-D', root, '--register=no', '--keep-unit', '--pipe', ...nspawnArgs, '--', ...argv];
    const [cmd, args] = cg.wrap(opts.lock ? ['flock', opts.lock, ...nspawn] : nspawn);
    return await runProcess(cmd, args, { ...opts, env: NSPAWN_ENV });
  } finally {
    cg.kill();
    cg.remove();
  }
}

/**
 * Downloads the packages `apt-get install <aptArgs>` needs into a cache
 * shared by all runs on this suite (the only step that needs the mirror;
 * offline when the cache has them all), then copies them into root's own
 * apt cache, from which the booted container, which has no network,
 * installs them. A local .deb in aptArgs is a path inside root.
 */
export async function fetchPackages(root: string, suite: Suite, aptArgs: string[]): Promise<void> {
  const cache = path.join(TEST_CACHE, 'apt', suite);
  fs.mkdirSync(path.join(cache, 'partial'), { recursive: true });
  const r = await runInTree(
    root,
    ['apt-get', 'install', '-y', '-d', '--no-install-recommends', ...aptArgs],
    [`--bind=${cache}:/var/cache/apt/archives`, '--setenv=DEBIAN_FRONTEND=noninteractive'],
    // One download into the shared cache at a time: apt's own lock fails instead of waiting.
    { timeoutMs: 300_000, lock: path.join(cache, '.lock') },
  );
  if (r.code !== 0) {
    throw new Error(
      `downloading ${aptArgs.join(' ')} for ${suite} failed (exit ${r.code}); the first run needs the Debian mirror (outside /work/dev/isolated, which has no network): ${(r.stderr || r.stdout).trim().split('\n').slice(-8).join(' | ')}`,
    );
  }
  const archives = path.join(root, 'var', 'cache', 'apt', 'archives');
  for (const f of fs.readdirSync(cache)) if (f.endsWith('.deb')) fs.copyFileSync(path.join(cache, f), path.join(archives, f));
}

const live = new Set<BootedSystem>();
// A test killed by its timeout still takes its containers down.
process.once('exit', () => {
  for (const b of live) b.killNow();
});

/** A running container; see boot(). */
export class BootedSystem {
  private nspawn: ChildProcess | undefined;
  private exited: Promise<number> = Promise.resolve(0);
  private booting: Promise<string> | undefined;
  private stopping = false;
  private pid = 0;
  private readonly cgroup: Cgroup;
  private readonly log: string;

  constructor(
    /** The container's root as the host sees it. */
    readonly root: string,
    readonly name: string,
  ) {
    this.cgroup = new Cgroup(name);
    this.log = path.join(path.dirname(root), 'console.log');
  }

  /** The container's PID 1 as the host sees it (a new one after each reboot). */
  get pid1(): number {
    return this.pid;
  }

  /** The last lines systemd printed on the container's console. */
  consoleTail(lines = 20): string {
    try {
      return fs.readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Starts nspawn and resolves once systemd inside says the boot is done ("running" or "degraded"). */
  start(timeoutMs = 60_000): Promise<string> {
    live.add(this);
    return this.waitForBoot(this.launch(), Date.now() + timeoutMs);
  }

  private launch(): ChildProcess {
    const console = fs.openSync(this.log, 'a');
    const [cmd, args] = this.cgroup.wrap([
      'systemd-nspawn',
      '-q',
      '-b',
      '-D',
      this.root,
      // Without these two nspawn wants machined on the host's system bus.
      '--register=no',
      '--keep-unit',
      '--private-network',
      '--console=read-only',
    ]);
    const child = spawn(cmd, args, { env: NSPAWN_ENV, stdio: ['ignore', console, console] });
    fs.closeSync(console);
    this.nspawn = child;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
    void this.exited.then((code) => {
      // `systemctl reboot` inside ends nspawn with 133: boot the same tree again.
      if (code !== 133 || this.stopping) return;
      this.booting = this.waitForBoot(this.launch(), Date.now() + 60_000);
      this.booting.catch(() => undefined);
    });
    return child;
  }

  private async waitForBoot(child: ChildProcess, deadline: number): Promise<string> {
    this.pid = await this.waitForInit(child, deadline);
    let state = await this.run(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1000, deadline - Date.now()) });
    // Until systemd has made /run/systemd/system ("offline") and its socket, systemctl cannot ask.
    while ((state.stdout.trim() === 'offline' || /Failed to connect to .*bus/.test(state.stderr)) && Date.now() < deadline) {
      await sleep(50);
      state = await this.run(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1000, deadline - Date.now()) });
    }
    const result = state.stdout.trim();
    if (result !== 'running' && result !== 'degraded') {
      throw new Error(`${this.name}: booting ended "${result || state.stderr.trim()}"; console:\n${this.consoleTail()}`);
    }
    return result;
  }

  /** nspawn's child is the container's PID 1 once it runs systemd. */
  private async waitForInit(child: ChildProcess, deadline: number): Promise<number> {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name}: systemd-nspawn exited (${child.exitCode ?? child.signalCode}); console:\n${this.consoleTail()}`);
      }
      const pid = child.pid!;
      // nspawn's short-lived helpers come and go here: a vanished one is no answer.
      const read = (file: string) => {
        try {
          return fs.readFileSync(file, 'utf8').trim();
        } catch {
          return '';
        }
      };
      for (const k of read(`/proc/${pid}/task/${pid}/children`).split(/\s+/).filter(Boolean)) {
        if (read(`/proc/${k}/comm`) === 'systemd') return Number(k);
      }
      await sleep(50);
    }
    throw new Error(`${this.name}: no systemd in the container after booting; console:\n${this.consoleTail()}`);
  }

  private enter(argv: string[]): string[] {
    return ['-t', String(this.pid), '-m', '-u', '-i', '-n', '-p', '-C', '-r', '-w', '--', 'env', '-i', ...INSIDE_ENV, ...argv];
  }

  /** A command inside, as root; its environment is a plain one, not the test's. */
  run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return runProcess('nsenter', this.enter(argv), { timeoutMs: 120_000, ...opts });
  }

  sh(script: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.run(['sh', '-c', script], opts);
  }

  /**
   * A host program in the container's network namespace only: it sees this
   * machine's files (its node, this checkout) and the container's loopback.
   */
  spawnInNetwork(argv: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('nsenter', ['-t', String(this.pid), '-n', '--', ...argv], opts);
  }

  /** `systemctl reboot` inside; resolves when the next boot is done. */
  async reboot(): Promise<string> {
    const exited = this.exited;
    await this.run(['systemctl', 'reboot']);
    const code = await exited;
    if (code !== 133) throw new Error(`${this.name}: nspawn ended with ${code}, not 133 (reboot); console:\n${this.consoleTail()}`);
    // Set by the exit handler, which ran before this.
    return this.booting!;
  }

  /** Powers off (killing what is left after a grace period) and removes the cgroup. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    if (this.nspawn && this.nspawn.exitCode === null && this.nspawn.signalCode === null) {
      await this.run(['systemctl', 'poweroff'], { timeoutMs: 5000 });
      const grace = new AbortController();
      const done = await Promise.race([this.exited.then(() => true), sleep(graceMs, false, { signal: grace.signal }).catch(() => false)]);
      grace.abort();
      if (!done) {
        say(`${this.name}: did not power off within ${graceMs / 1000} s; killing its processes`);
        this.cgroup.kill();
        await this.exited;
      }
    }
    for (let i = 0; i < 50 && this.cgroup.populated(); i++) await sleep(100);
    this.cgroup.remove();
    live.delete(this);
  }

  /** For the exit hook: nothing asynchronous is possible there. */
  killNow(): void {
    this.stopping = true;
    this.cgroup.kill();
  }
}

/** Boots the tree at root (an overlay: the container writes to it). */
export async function boot(root: string, name: string): Promise<BootedSystem> {
  const system = new BootedSystem(root, name);
  try {
    await system.start();
  } catch (err) {
    await system.stop(5000).catch(() => undefined);
    throw err;
  }
  return system;
}
