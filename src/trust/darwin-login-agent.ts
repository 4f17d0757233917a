import fs from 'node:fs/promises';
import path from 'node:path';
import { LAUNCHD_LABEL } from '../config/names.js';
import { readIfExists } from '../util/files.js';
import { runChecked } from '../util/runner.js';
import type { MacUser } from './darwin-users.js';
import { READ_TIMEOUT_MS } from './darwin-users.js';
import type { CaRef } from './darwin-trust-settings.js';
import type { TrustContext } from './trust-store.js';

/**
 * The per-user side of macOS trust. Each user's own trust settings can only
 * be changed by that user, in their session, with their password; when they
 * could not confirm at install time, a login item in their own
 * ~/Library/LaunchAgents asks them once at their next login (launchd runs it
 * once per login: RunAtLoad, no KeepAlive), stops after two declines, and
 * removes itself when nothing is left to do. Its folder keeps the decline
 * count and a copy of each CA it deals with, readable by the user (the
 * system config folder is not).
 */
export const AGENT_LABEL = `${LAUNCHD_LABEL}.trust`;
export const MAX_DECLINES = 2;

export interface UserPaths {
  dir: string;
  state: string;
  log: string;
  agents: string;
  plist: string;
  keychain: string;
  crt: (sha1: string) => string;
}

export function userPaths(home: string): UserPaths {
  const dir = path.join(home, 'Library', 'Application Support', 'nhiicc');
  const agents = path.join(home, 'Library', 'LaunchAgents');
  return {
    dir,
    state: path.join(dir, 'login-trust.json'),
    log: path.join(dir, 'login-trust.log'),
    agents,
    plist: path.join(agents, `${AGENT_LABEL}.plist`),
    keychain: path.join(home, 'Library', 'Keychains', 'login.keychain-db'),
    crt: (sha1) => path.join(dir, `${sha1}.crt`),
  };
}

export interface LoginTrustState {
  version: 1;
  declines: number;
  /** The CA this user is to be asked to trust; gone once they did. */
  ask?: CaRef;
  /** CAs this user's trust settings and keychain must lose (renewed, or nhiicc uninstalled). */
  retire: CaRef[];
}

export function emptyLoginState(): LoginTrustState {
  return { version: 1, declines: 0, retire: [] };
}

/** A login item still has work: a question to ask (not after two declines) or trust to remove. */
export function needsLoginItem(state: LoginTrustState): boolean {
  return (state.ask !== undefined && state.declines < MAX_DECLINES) || state.retire.length > 0;
}

/**
 * Files in a user's home. Root writes them with that user's rights
 * (`sudo -u`), so a link planted in the home cannot point a root write
 * elsewhere; the user themselves uses the file system directly.
 */
export interface UserFiles {
  read(file: string): Promise<string | undefined>;
  write(file: string, content: string): Promise<void>;
  mkdir(...dirs: string[]): Promise<void>;
  remove(...paths: string[]): Promise<void>;
}

export function userFiles(ctx: TrustContext, user: MacUser): UserFiles {
  if (!ctx.isRoot) {
    return {
      read: readIfExists,
      write: (file, content) => fs.writeFile(file, content),
      mkdir: async (...dirs) => void (await Promise.all(dirs.map((d) => fs.mkdir(d, { recursive: true })))),
      remove: async (...paths) => void (await Promise.all(paths.map((p) => fs.rm(p, { recursive: true, force: true })))),
    };
  }
  const as = (cmd: string, args: string[], input?: string) =>
    runChecked(ctx.runner, 'sudo', ['-u', user.name, cmd, ...args], { timeoutMs: READ_TIMEOUT_MS, ...(input !== undefined ? { input } : {}) });
  return {
    read: async (file) => {
      const result = await ctx.runner('sudo', ['-u', user.name, '/bin/cat', file], { timeoutMs: READ_TIMEOUT_MS });
      return result.code === 0 ? result.stdout : undefined;
    },
    write: async (file, content) => void (await as('/usr/bin/tee', [file], content)),
    mkdir: async (...dirs) => void (await as('/bin/mkdir', ['-p', ...dirs])),
    remove: async (...paths) => void (await as('/bin/rm', ['-rf', ...paths])),
  };
}

export async function readLoginState(files: UserFiles, paths: UserPaths): Promise<LoginTrustState | undefined> {
  const text = await files.read(paths.state);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<LoginTrustState>;
    if (parsed.version !== 1) return emptyLoginState();
    return {
      version: 1,
      declines: typeof parsed.declines === 'number' ? parsed.declines : 0,
      ...(isCaRef(parsed.ask) ? { ask: parsed.ask } : {}),
      retire: Array.isArray(parsed.retire) ? parsed.retire.filter(isCaRef) : [],
    };
  } catch {
    return emptyLoginState();
  }
}

export async function writeLoginState(files: UserFiles, paths: UserPaths, state: LoginTrustState): Promise<void> {
  await files.write(paths.state, `${JSON.stringify(state, null, 2)}\n`);
}

/** While nhiicc is installed the login item runs `nhiicc cert confirm --at-login`. */
export function askItem(selfCommand: string[], paths: UserPaths): string {
  return loginItemPlist([...selfCommand, 'cert', 'confirm', '--at-login'], paths.log);
}

/**
 * After nhiicc is uninstalled nothing of it is left to run, so the login
 * item is a few lines of sh over /usr/bin/security: remove each retired CA
 * from the user's trust settings (macOS asks for their password) and login
 * keychain, once, then remove the folder and the item itself.
 */
export function undoItem(paths: UserPaths, retire: CaRef[]): string {
  return loginItemPlist(['/bin/sh', '-c', UNDO_SCRIPT, 'nhiicc-undo', paths.dir, paths.keychain, paths.plist, ...retire.flatMap((r) => [r.sha1, r.cn])], paths.log);
}

export const UNDO_SCRIPT = `dir=$1 keychain=$2 plist=$3
shift 3
while [ $# -ge 2 ]; do
  if /usr/bin/security dump-trust-settings 2>/dev/null | /usr/bin/grep -Eq "^Cert [0-9]+: $2\\$"; then
    /usr/bin/security remove-trusted-cert "$dir/$1.crt"
  fi
  if /usr/bin/security find-certificate -a -Z "$keychain" 2>/dev/null | /usr/bin/grep -q "^SHA-1 hash: $1\\$"; then
    /usr/bin/security delete-certificate -Z "$1" "$keychain"
  fi
  shift 2
done
/bin/rm -rf "$dir" "$plist"
`;

function loginItemPlist(args: string[], log: string): string {
  const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${AGENT_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args.map((a) => `    <string>${xml(a)}</string>`).join('\n')}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>LimitLoadToSessionType</key>
  <string>Aqua</string>
  <key>StandardOutPath</key>
  <string>${xml(log)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(log)}</string>
</dict>
</plist>
`;
}

function isCaRef(value: unknown): value is CaRef {
  const v = value as CaRef | undefined;
  return typeof v?.sha1 === 'string' && /^[0-9A-F]{40}$/.test(v.sha1) && typeof v.cn === 'string';
}
