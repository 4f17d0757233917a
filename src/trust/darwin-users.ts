import { stat } from 'node:fs/promises';
import os from 'node:os';
import { runChecked } from '../util/runner.js';
import type { TrustContext } from './trust-store.js';

/** A macOS account whose own trust settings and login keychain nhiicc may touch. */
export interface MacUser {
  name: string;
  uid: number;
  home: string;
}

/** Reading commands answer within this; one that hangs must not hang an install. */
export const READ_TIMEOUT_MS = 30_000;

/** Accounts people log in with; system accounts have lower ids or names starting with "_". */
const FIRST_USER_ID = 501;

/** Who is logged in at the screen, if anyone (at the login window the console belongs to loginwindow). */
export async function consoleUserName(ctx: TrustContext): Promise<string | undefined> {
  const result = await ctx.runner('scutil', [], { input: 'show State:/Users/ConsoleUser\n', timeoutMs: READ_TIMEOUT_MS });
  const name = /^\s*Name : (.+)$/m.exec(result.stdout)?.[1]?.trim();
  return result.code === 0 && name && name !== 'loginwindow' && name !== 'root' ? name : undefined;
}

/** Every account people log in with whose home folder exists. */
export async function localUsers(ctx: TrustContext): Promise<MacUser[]> {
  const list = await runChecked(ctx.runner, 'dscl', ['.', '-list', '/Users', 'UniqueID'], { timeoutMs: READ_TIMEOUT_MS });
  const users: MacUser[] = [];
  for (const line of list.stdout.split('\n')) {
    const match = /^(\S+)\s+(-?\d+)\s*$/.exec(line);
    if (!match || match[1]!.startsWith('_') || Number(match[2]) < FIRST_USER_ID) continue;
    const name = match[1]!;
    const read = await ctx.runner('dscl', ['.', '-read', `/Users/${name}`, 'NFSHomeDirectory'], { timeoutMs: READ_TIMEOUT_MS });
    // A value with spaces comes on the next line, indented.
    const home = /^NFSHomeDirectory:(?:[ \t]+(\S.*)|[ \t]*\n[ \t]+(\S.*))$/m.exec(read.stdout);
    const dir = (home?.[1] ?? home?.[2])?.trim();
    if (read.code !== 0 || !dir || !(await isDirectory(dir))) continue;
    users.push({ name, uid: Number(match[2]), home: dir });
  }
  return users;
}

/** The account running this process (a login item, or someone in Terminal without sudo). */
export function currentUser(ctx: TrustContext): MacUser {
  return {
    name: ctx.env.USER ?? os.userInfo().username,
    uid: process.getuid?.() ?? -1,
    home: ctx.env.HOME ?? os.homedir(),
  };
}

/**
 * A command line run as `user` inside their login session: as root through
 * `launchctl asuser` (which joins that session, so macOS can show that user
 * its dialogs) and `sudo -u` (so the change lands in their own trust
 * settings); as the user themselves, unchanged.
 */
export function inSession(ctx: TrustContext, user: MacUser, cmd: string, args: string[]): [string, string[]] {
  return ctx.isRoot ? ['launchctl', ['asuser', String(user.uid), 'sudo', '-H', '-u', user.name, cmd, ...args]] : [cmd, args];
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() ?? false;
}
