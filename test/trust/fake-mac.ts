// A Mac as far as nhiicc's macOS trust code can tell: the commands it runs
// (scutil, dscl, security, osascript, launchctl asuser, sudo -u) answered
// from a model of users, trust domains and keychains, and the files it
// writes in each user's home written for real into temporary folders.
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { caRef } from '../../src/trust/darwin-trust-settings.js';
import { TIMED_OUT, type RunOptions, type RunResult } from '../../src/util/runner.js';
import type { TrustContext } from '../../src/trust/trust-store.js';
import { recordingRunner, type Recorded } from './recording-runner.js';

export interface FakeUser {
  name: string;
  uid: number;
  home: string;
}

/** How a user answers nhiicc's explanation (`continue`, `not-now`, `gave-up`) or macOS's password dialog (the rest). */
export type Answer = 'continue' | 'not-now' | 'gave-up' | 'ok' | 'cancel' | 'no-ui' | 'timeout' | 'broken';

export const SELF = ['/usr/local/nhiicc/bin/node', '/usr/local/nhiicc/app/dist/cli.js'];

export class FakeMac {
  console: string | undefined;
  /** Common names the admin domain trusts. */
  readonly admin = new Set<string>();
  /** Per user, common names their own trust settings trust. */
  readonly trust = new Map<string, Set<string>>();
  /** Per keychain file, the SHA-1 of each certificate in it. */
  readonly keychains = new Map<string, Set<string>>();
  readonly answers = new Map<string, Answer[]>();
  readonly rec: Recorded;
  /** Lets a test break one command: return a result to use instead. */
  breakOn: (line: string) => Partial<RunResult> | undefined = () => undefined;

  constructor(readonly users: FakeUser[], consoleUser?: string) {
    this.console = consoleUser;
    for (const u of users) this.trust.set(u.name, new Set());
    this.rec = recordingRunner((line, cmd, args, opts) => this.breakOn(line) ?? this.run(cmd, args, opts, undefined));
  }

  /** The lines run, with the explanation dialog's long arguments shortened. */
  get lines(): string[] {
    return this.rec.lines.map((l) => (l.includes('osascript -e') ? `${l.slice(0, l.indexOf('osascript') + 'osascript'.length)} <explain>` : l));
  }

  user(name: string): FakeUser {
    return this.users.find((u) => u.name === name)!;
  }

  answer(name: string, ...answers: Answer[]): void {
    this.answers.set(name, [...(this.answers.get(name) ?? []), ...answers]);
  }

  /** A root context, as the package's install step or `sudo nhiicc` has. */
  root(extra: Partial<TrustContext> = {}): Partial<TrustContext> {
    return { platform: 'darwin', isRoot: true, runner: this.rec.runner, env: {}, homeDirs: [], selfCommand: SELF, ...extra };
  }

  /** A context of `name` themselves: their login item, or them in Terminal. */
  as(name: string, extra: Partial<TrustContext> = {}): Partial<TrustContext> {
    const u = this.user(name);
    return {
      platform: 'darwin',
      isRoot: false,
      runner: async (cmd, args, opts = {}) => {
        const line = [cmd, ...args].join(' ');
        this.rec.lines.push(line);
        return { code: 0, stdout: '', stderr: '', ...(this.breakOn(line) ?? this.run(cmd, args, opts, name)) };
      },
      env: { USER: u.name, HOME: u.home },
      homeDirs: [u.home],
      selfCommand: SELF,
      ...extra,
    };
  }

  trusts(name: string, cn: string): boolean {
    return this.trust.get(name)!.has(cn);
  }

  /** The next queued answer; unasked questions are answered yes. */
  private next(name: string | undefined, otherwise: Answer): Answer {
    return this.answers.get(name ?? 'root')?.shift() ?? otherwise;
  }

  private run(cmd: string, args: string[], opts: RunOptions, self: string | undefined): Partial<RunResult> {
    if (cmd === 'launchctl' && args[0] === 'asuser') {
      const uid = Number(args[1]);
      if (args[2] === 'sudo') {
        const name = args[5]!;
        if (this.users.find((u) => u.uid === uid)?.name !== name) throw new Error(`asuser ${uid} runs as ${name}`);
        return this.tool(args[6]!, args.slice(7), name);
      }
      return this.tool(args[2]!, args.slice(3), undefined);
    }
    if (cmd === 'sudo' && args[0] === '-u') return this.file(args[1]!, args[2]!, args.slice(3), opts.input ?? '');
    if (cmd === 'scutil') {
      const u = this.users.find((x) => x.name === this.console);
      return { stdout: u ? `<dictionary> {\n  GID : 20\n  Name : ${u.name}\n  UID : ${u.uid}\n}\n` : '<dictionary> {\n  Name : loginwindow\n}\n' };
    }
    if (cmd === 'dscl' && args[1] === '-list') {
      return { stdout: `${['_amavisd 83', 'daemon 1', 'nobody -2', 'root 0', ...this.users.map((u) => `${u.name} ${u.uid}`)].join('\n')}\n` };
    }
    if (cmd === 'dscl' && args[1] === '-read') {
      const u = this.users.find((x) => `/Users/${x.name}` === args[2]);
      return u ? { stdout: `NFSHomeDirectory: ${u.home}\n` } : { code: 56, stderr: 'DS Error: -14136 (eDSRecordNotFound)\n' };
    }
    return this.tool(cmd, args, self);
  }

  /** `security` and `osascript` as `name` (undefined: root). */
  private tool(cmd: string, args: string[], name: string | undefined): Partial<RunResult> {
    if (cmd === 'osascript') {
      const a = this.next(name, 'continue');
      if (a === 'not-now') return { code: 1, stderr: '0:300: execution error: User canceled. (-128)\n' };
      if (a === 'gave-up') return { stdout: 'button returned:, gave up:true\n' };
      if (a !== 'continue') throw new Error(`explanation answered with ${a}`);
      return { stdout: 'button returned:繼續 Continue, gave up:false\n' };
    }
    if (cmd !== 'security') throw new Error(`unexpected command ${cmd} ${args.join(' ')}`);
    const [verb, ...rest] = args;
    const domain = name === undefined || rest[0] === '-d' ? this.admin : this.trust.get(name)!;
    switch (verb) {
      case 'dump-trust-settings': {
        if (domain.size === 0) return { code: 1, stderr: 'SecTrustSettingsCopyCertificates: No Trust Settings were found.\n' };
        const certs = [...domain].map((cn, i) => `Cert ${i}: ${cn}\n   Number of trust settings : 1\n   Trust Setting 0:\n`);
        return { stdout: `Number of trusted certs = ${domain.size}\n${certs.join('')}` };
      }
      case 'find-certificate': {
        const hashes = this.keychains.get(rest.at(-1)!) ?? new Set();
        return { stdout: [...hashes].map((h) => `keychain: "${rest.at(-1)}"\nSHA-256 hash: 00\nSHA-1 hash: ${h}\n`).join('') };
      }
      case 'delete-certificate':
        this.keychains.get(rest[2]!)?.delete(rest[1]!);
        return {};
      case 'add-trusted-cert': {
        const ref = refOf(rest.at(-1)!);
        const keychain = rest[rest.indexOf('-k') + 1]!;
        this.keychains.set(keychain, new Set([...(this.keychains.get(keychain) ?? []), ref.sha1]));
        return this.authorized(name, 'SecTrustSettingsSetTrustSettings', () => domain.add(ref.cn));
      }
      case 'remove-trusted-cert': {
        const ref = refOf(rest.at(-1)!);
        if (!domain.has(ref.cn)) return { code: 1, stderr: 'SecTrustSettingsRemoveTrustSettings: The specified item could not be found in the keychain.\n' };
        return this.authorized(name, 'SecTrustSettingsRemoveTrustSettings', () => domain.delete(ref.cn));
      }
    }
    throw new Error(`unexpected security ${args.join(' ')}`);
  }

  private authorized(name: string | undefined, fn: string, change: () => void): Partial<RunResult> {
    const a = this.next(name, 'ok');
    if (a === 'ok') {
      change();
      return {};
    }
    if (a === 'timeout') return { code: TIMED_OUT, stderr: 'security: no answer within 180 s, ended\n' };
    const why = { cancel: 'The authorization was canceled by the user.', 'no-ui': 'The authorization was denied since no user interaction was possible.', broken: 'Internal error.' }[
      a as 'cancel' | 'no-ui' | 'broken'
    ];
    if (!why) throw new Error(`password dialog answered with ${a}`);
    return { code: 1, stderr: `${fn}: ${why}\n` };
  }

  /** `sudo -u name <tool>`: file work in a home, with that user's rights. */
  private file(name: string, tool: string, args: string[], input: string): Partial<RunResult> {
    const home = this.user(name).home;
    const inHome = (p: string) => {
      if (!p.startsWith(home + path.sep)) throw new Error(`${name} touches ${p} outside their home`);
      return p;
    };
    switch (tool) {
      case '/bin/cat': {
        const f = inHome(args[0]!);
        return fs.existsSync(f) ? { stdout: fs.readFileSync(f, 'utf8') } : { code: 1, stderr: `cat: ${f}: No such file or directory\n` };
      }
      case '/usr/bin/tee':
        fs.writeFileSync(inHome(args[0]!), input);
        return { stdout: input };
      case '/bin/mkdir':
        for (const d of args.slice(1)) fs.mkdirSync(inHome(d), { recursive: true });
        return {};
      case '/bin/rm':
        for (const p of args.slice(1)) fs.rmSync(inHome(p), { recursive: true, force: true });
        return {};
    }
    throw new Error(`unexpected sudo -u ${name} ${tool}`);
  }
}

function refOf(file: string) {
  const pem = fs.readFileSync(file, 'utf8');
  return caRef({ pem, sha1: createHash('sha1').update(new X509Certificate(pem).raw).digest('hex') });
}

/** Two users with real temporary homes; `t.teardown` removes them. */
export async function fakeUsers(t: { teardown(fn: () => unknown): void }, names = ['alice', 'bob']): Promise<FakeUser[]> {
  const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'nhiicc-users-'));
  t.teardown(() => fs.promises.rm(root, { recursive: true, force: true }));
  return Promise.all(
    names.map(async (name, i) => {
      const home = path.join(root, name);
      await fs.promises.mkdir(home);
      return { name, uid: 501 + i, home };
    }),
  );
}
