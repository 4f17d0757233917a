import {
  askItem,
  emptyLoginState,
  MAX_DECLINES,
  needsLoginItem,
  readLoginState,
  undoItem,
  userFiles,
  userPaths,
  writeLoginState,
  type LoginTrustState,
  type UserFiles,
  type UserPaths,
} from './darwin-login-agent.js';
import {
  addUserTrust,
  ANSWER_TIMEOUT_MS,
  caRef,
  certificatesIn,
  dumpTrustSettings,
  explain,
  outcomeOf,
  removeUserTrust,
  trustIn,
  type CaRef,
  type DomainTrust,
  type Outcome,
} from './darwin-trust-settings.js';
import { consoleUserName, currentUser, inSession, localUsers, READ_TIMEOUT_MS, type MacUser } from './darwin-users.js';
import { runChecked } from '../util/runner.js';
import { caInfo, emptyChange, type CaInfo, type Change, type PromptMode, type TrustContext, type TrustRecord, type TrustStore } from './trust-store.js';

export const DARWIN_STORE = 'macos-keychain';
export const SYSTEM_KEYCHAIN = '/Library/Keychains/System.keychain';
const LABEL = 'macOS trust settings';

/**
 * macOS trust for Safari, Chrome, Edge and Firefox (which reads the same
 * trust settings, see darwin-firefox.ts).
 *
 * Since macOS 11 no script can change trust settings on its own: root alone
 * is refused ("no user interaction was possible"), and each change needs a
 * person to type a password into a macOS dialog. nhiicc uses each user's OWN
 * trust domain (their login keychain), not the admin domain:
 * - the dialog asks for that user's login password, so anyone can confirm,
 *   administrator or not; the admin domain wants an administrator's name and
 *   password, which a standard user at their login does not have;
 * - the very same command works during the install (run as the user inside
 *   their session with `launchctl asuser`) and later from a login item that
 *   runs as them, with no root process showing dialogs;
 * - Safari, Chrome, Edge and Firefox honour user trust settings like admin ones.
 * The cost is one confirmation per user. The person installing is asked at
 * once; everyone else (and they, if they could not confirm) at their next
 * login, at most twice (darwin-login-agent.ts). Every user touched is
 * recorded, so uninstall removes the CA from each of them.
 */
export function darwinStore(ctx: TrustContext): TrustStore {
  return {
    name: DARWIN_STORE,
    label: LABEL,
    async available() {
      return ctx.platform === 'darwin';
    },

    async install(ca) {
      const change = emptyChange(DARWIN_STORE);
      const ref = caRef(ca);
      const mode = ctx.prompt ?? 'always';
      if (ctx.isRoot) await dropUntrustedSystemCopy(ctx, ca, change);
      if (trustIn(await dumpTrustSettings(ctx), ref.cn) === 'trusted') {
        note(change, 'the admin trust settings already trust the CA, for every user of this Mac');
        return change;
      }
      if (!ctx.isRoot) {
        const me = currentUser(ctx);
        const result = await confirmForUser(ctx, me, ca, { mode, explain: false });
        return { ...result.change, added: [userRecord(me, ref)] };
      }
      const who = await whoIsAsked(ctx);
      if (who.users.length === 0) note(change, 'no user account found to ask');
      else if (!who.atScreen) note(change, `${who.why}: confirmation pending: each user is asked at their next login`);
      let trustedAtScreen = false;
      for (const user of who.users) {
        change.added.push(userRecord(user, ref));
        try {
          if (user !== who.atScreen) {
            change.notes.push(...(await offerAtLogin(ctx, user, ca)));
            continue;
          }
          const result = await confirmForUser(ctx, user, ca, { mode, explain: mode !== 'always' });
          change.notes.push(...result.change.notes);
          trustedAtScreen = result.trusted;
          if (result.change.status === 'changed' || result.change.status === 'failed') change.status = result.change.status;
        } catch (err) {
          note(change, `${user.name}: ${(err as Error).message}`);
          change.status = 'failed';
        }
      }
      if (!trustedAtScreen && who.users.length > 0 && change.status !== 'failed') change.status = 'pending';
      return change;
    },

    async uninstall(ca, records) {
      const change = emptyChange(DARWIN_STORE);
      const ours = records?.filter((r) => r.store === DARWIN_STORE);
      await removeAdminTrust(ctx, ca, ours, change);
      const users = ctx.isRoot ? await localUsers(ctx) : [currentUser(ctx)];
      const atScreen = ctx.isRoot ? await consoleUserName(ctx) : users[0]!.name;
      const named = ours?.filter((r) => r.user !== undefined);
      for (const record of named?.filter((r) => !users.some((u) => u.name === r.user)) ?? []) {
        if (!ctx.isRoot) {
          note(change, `${record.user}: not changed, removing it from another user needs an administrator (run with sudo)`);
          change.status = 'needs-privileges';
          continue;
        }
        change.removed.push(record);
        note(change, `${record.user}: the account no longer exists`);
      }
      for (const user of named ? users.filter((u) => named.some((r) => r.user === u.name)) : users) {
        try {
          const state = await readLoginState(userFiles(ctx, user), userPaths(user.home));
          // Without records (an older install, or the record lost) only users with an nhiicc folder are ours.
          if (!named && !state && user.name !== atScreen) continue;
          const lines = user.name === atScreen ? await removeNow(ctx, user, ca, state) : await removeAtLogin(ctx, user, ca, state);
          for (const line of lines) note(change, line);
          change.removed.push(...(named?.filter((r) => r.user === user.name) ?? []));
          if (change.status === 'unchanged') change.status = 'changed';
        } catch (err) {
          note(change, `${user.name}: ${(err as Error).message}`);
          change.status = 'failed';
        }
      }
      if (change.notes.length === 0) note(change, 'nothing of ours to remove');
      return change;
    },

    async trustedIn(ca) {
      const { domain, user } = await trustDomain(ctx, ca);
      return [{ location: domain === 'user' ? `${user!.name}'s trust settings` : 'the admin trust settings', trusted: domain !== 'none' }];
    },
  };
}

function note(change: Change, text: string): void {
  change.notes.push(`${LABEL}: ${text}`);
}

function userRecord(user: MacUser, ref: CaRef): TrustRecord {
  return { store: DARWIN_STORE, location: userPaths(user.home).keychain, name: ref.sha1, user: user.name };
}

interface WhoIsAsked {
  users: MacUser[];
  /** The user who sees the dialog now. */
  atScreen?: MacUser;
  /** Why nobody is asked now. */
  why?: string;
}

/**
 * Root asks the user at the screen: whoever is logged in there when the
 * installer runs, or the one who typed `sudo` when that is them. Someone
 * typing sudo over ssh is not at the screen, and a dialog there would ask
 * another person.
 */
async function whoIsAsked(ctx: TrustContext): Promise<WhoIsAsked> {
  const users = await localUsers(ctx);
  const consoleName = await consoleUserName(ctx);
  const sudoUser = sudoUserOf(ctx);
  if (consoleName === undefined) return { users, why: 'nobody is logged in at this Mac' };
  if (sudoUser !== undefined && sudoUser !== consoleName) return { users, why: `${sudoUser} is not at this Mac's screen (${consoleName} is)` };
  const atScreen = users.find((u) => u.name === consoleName);
  return atScreen ? { users, atScreen } : { users, why: `${consoleName} has no home folder to keep nhiicc's question in` };
}

function sudoUserOf(ctx: TrustContext): string | undefined {
  return ctx.env.SUDO_USER && ctx.env.SUDO_USER !== 'root' ? ctx.env.SUDO_USER : undefined;
}

interface ConfirmOptions {
  mode: PromptMode;
  /** Say why before the password dialog: nhiicc started this, the user did not. */
  explain: boolean;
  /** How long each dialog waits; no answer counts as a decline. */
  answerWithinMs?: number;
}

/** At login nobody waits on the dialog, so it may wait longer for someone who just sat down. */
const LOGIN_ANSWER_TIMEOUT_MS = 10 * 60_000;

/**
 * Asks `user` (at the screen) to trust the CA in their own trust settings,
 * unless they already do, and keeps their login item in step: gone when
 * trusted or after two declines, there for their next login otherwise.
 */
async function confirmForUser(ctx: TrustContext, user: MacUser, ca: CaInfo, options: ConfirmOptions): Promise<{ change: Change; trusted: boolean }> {
  const change = emptyChange(DARWIN_STORE);
  const tell = (text: string) => note(change, `${user.name}: ${text}`);
  const ref = caRef(ca);
  const within = options.answerWithinMs ?? ANSWER_TIMEOUT_MS;
  const { files, paths, state } = await prepare(ctx, user, ca);
  const already = trustIn(await dumpTrustSettings(ctx, user), ref.cn) === 'trusted';
  let trusted = already;
  if (already) {
    tell('already trusts the CA (their own trust settings)');
  } else if (options.mode === 'never' || (options.mode === 'unless-declined' && state.declines >= MAX_DECLINES)) {
    tell(notAskedNow(user, state));
  } else {
    ctx.say?.(`asking ${user.name} to confirm: a macOS dialog on this Mac's screen asks for ${user.name}'s login password to trust the nhiicc CA ${ref.cn}`);
    const outcome = (options.explain ? await explain(ctx, user, within) : undefined) ?? (await addUserTrust(ctx, user, paths.crt(ref.sha1), paths.keychain, within));
    trusted = outcome.answer === 'confirmed';
    if (outcome.answer === 'declined') state.declines += 1;
    if (outcome.answer === 'failed') change.status = 'failed';
    tell(trusted ? `confirmed: their login keychain now trusts the CA (SHA-1 ${ref.sha1})` : `${outcome.detail}: trust is missing for ${user.name}; ${pending(user, state, 'once more ')}`);
  }
  if (trusted) {
    delete state.ask;
    state.declines = 0;
    if (!already) change.status = 'changed';
  } else {
    state.ask = ref;
    if (change.status === 'unchanged') change.status = 'pending';
  }
  await save(ctx, files, paths, state);
  return { change, trusted };
}

/** For users not at the screen: their login item asks them at their next login. */
async function offerAtLogin(ctx: TrustContext, user: MacUser, ca: CaInfo): Promise<string[]> {
  const { files, paths, state } = await prepare(ctx, user, ca);
  state.ask = caRef(ca);
  await save(ctx, files, paths, state);
  return [`${LABEL}: ${user.name}: ${notAskedNow(user, state)}`];
}

function notAskedNow(user: MacUser, state: LoginTrustState): string {
  return state.declines >= MAX_DECLINES ? `not asked: ${pending(user, state)}` : `not asked now: ${pending(user, state)}`;
}

function pending(user: MacUser, state: LoginTrustState, again = ''): string {
  return state.declines >= MAX_DECLINES
    ? `${user.name} declined twice, so nhiicc does not ask again (\`nhiicc doctor\` shows how to trust it by hand)`
    : `confirmation pending: ${user.name} is asked ${again}at their next login`;
}

async function prepare(ctx: TrustContext, user: MacUser, ca: CaInfo) {
  const files = userFiles(ctx, user);
  const paths = userPaths(user.home);
  const ref = caRef(ca);
  const state = (await readLoginState(files, paths)) ?? emptyLoginState();
  state.retire = state.retire.filter((r) => r.sha1 !== ref.sha1);
  await files.mkdir(paths.dir, paths.agents);
  await files.write(paths.crt(ref.sha1), ca.pem);
  return { files, paths, state };
}

async function save(ctx: TrustContext, files: UserFiles, paths: UserPaths, state: LoginTrustState): Promise<void> {
  await writeLoginState(files, paths, state);
  if (needsLoginItem(state)) await files.write(paths.plist, askItem(ctx.selfCommand ?? [process.execPath, process.argv[1] ?? ''], paths));
  else await files.remove(paths.plist);
}

type Removal = 'removed' | 'kept' | 'unattended';

/**
 * Removes each CA from `user`'s trust settings (macOS asks them for their
 * password) and login keychain, now. A CA they chose to keep keeps its
 * certificate too: without it Keychain Access could not show the trust
 * setting that remains.
 */
async function removeFromUser(ctx: TrustContext, user: MacUser, refs: CaRef[], pems = new Map<string, string>()): Promise<{ lines: string[]; results: Map<string, Removal> }> {
  const paths = userPaths(user.home);
  const lines: string[] = [];
  const results = new Map<string, Removal>();
  const dump = await dumpTrustSettings(ctx, user);
  for (const r of refs.filter((x) => trustIn(dump, x.cn) !== 'absent')) {
    // `security` reads the certificate as the user: from a copy in their folder.
    const pem = pems.get(r.sha1);
    if (pem !== undefined) {
      const files = userFiles(ctx, user);
      await files.mkdir(paths.dir);
      await files.write(paths.crt(r.sha1), pem);
    }
    ctx.say?.(`asking ${user.name} to confirm: a macOS dialog on this Mac's screen asks for ${user.name}'s login password to remove the nhiicc CA ${r.cn}`);
    const outcome = await removeUserTrust(ctx, user, paths.crt(r.sha1));
    const result: Removal = outcome.answer === 'confirmed' ? 'removed' : outcome.answer === 'declined' ? 'kept' : 'unattended';
    results.set(r.sha1, result);
    if (result === 'removed') lines.push(`${user.name}: removed ${r.cn} from their trust settings`);
    if (result === 'kept') lines.push(`${user.name} ${outcome.detail}: their trust settings still trust ${r.cn}; to remove it: Keychain Access → login → Certificates → “${r.cn}” → Delete`);
    if (result === 'unattended') lines.push(`${user.name} ${outcome.detail}`);
  }
  const present = await certificatesIn(ctx, user, paths.keychain);
  for (const r of refs.filter((x) => present.has(x.sha1) && results.get(x.sha1) !== 'kept' && results.get(x.sha1) !== 'unattended')) {
    await runChecked(ctx.runner, ...inSession(ctx, user, 'security', ['delete-certificate', '-Z', r.sha1, paths.keychain]), { timeoutMs: READ_TIMEOUT_MS });
    lines.push(`${user.name}: removed ${r.cn} from their login keychain`);
    results.set(r.sha1, results.get(r.sha1) ?? 'removed');
  }
  return { lines, results };
}

/**
 * `user` is at the screen (or is us): remove the CA, and any retired earlier,
 * now; then their nhiicc folder and login item. When macOS could not ask
 * them, their login item does it at their next login instead.
 */
async function removeNow(ctx: TrustContext, user: MacUser, ca: CaInfo, state: LoginTrustState | undefined): Promise<string[]> {
  const ref = caRef(ca);
  const files = userFiles(ctx, user);
  const paths = userPaths(user.home);
  const refs = [ref, ...(state?.retire ?? []).filter((r) => r.sha1 !== ref.sha1)];
  const { lines, results } = await removeFromUser(ctx, user, refs, new Map([[ref.sha1, ca.pem]]));
  if ([...results.values()].includes('unattended')) return [...lines, ...(await removeAtLogin(ctx, user, ca, state))];
  await files.remove(paths.dir, paths.plist);
  return lines.length > 0 ? lines : [`${user.name}: nothing of ours in their trust settings or login keychain`];
}

/** `user` is not at the screen: their login item removes the CA at their next login, with no nhiicc left to run. */
async function removeAtLogin(ctx: TrustContext, user: MacUser, ca: CaInfo, state: LoginTrustState | undefined): Promise<string[]> {
  const ref = caRef(ca);
  const files = userFiles(ctx, user);
  const paths = userPaths(user.home);
  const next = state ?? emptyLoginState();
  if (next.ask?.sha1 === ref.sha1) delete next.ask;
  next.retire = [...next.retire.filter((r) => r.sha1 !== ref.sha1), ref];
  await files.mkdir(paths.dir, paths.agents);
  await files.write(paths.crt(ref.sha1), ca.pem);
  await writeLoginState(files, paths, next);
  await files.write(paths.plist, undoItem(paths, next.retire));
  return [`${user.name}: not asked now: ${ref.cn} leaves their trust settings and login keychain at their next login (macOS asks for their password if they trust it)`];
}

/**
 * `nhiicc cert confirm`, run by a user for themselves: from their login item
 * (`atLogin`: explains first, respects two declines, removes the item when
 * done) or typed in Terminal (asks regardless). Also removes CAs retired
 * since their last login, one attempt each.
 */
export async function confirmOwnTrust(ctx: TrustContext, atLogin: boolean): Promise<{ change: Change; trusted: boolean }> {
  const change = emptyChange(DARWIN_STORE);
  const me = currentUser(ctx);
  const files = userFiles(ctx, me);
  const paths = userPaths(me.home);
  const state = await readLoginState(files, paths);
  if (!state) {
    await files.remove(paths.plist);
    note(change, `${me.name}: no nhiicc CA waits for your confirmation; an administrator can run \`sudo nhiicc cert install\` while you are logged in at this Mac`);
    return { change, trusted: false };
  }
  if (state.retire.length > 0) {
    const { lines, results } = await removeFromUser(ctx, me, state.retire);
    for (const line of lines) note(change, line);
    const settled = state.retire.filter((r) => results.get(r.sha1) !== 'unattended');
    await files.remove(...settled.filter((r) => r.sha1 !== state.ask?.sha1).map((r) => paths.crt(r.sha1)));
    state.retire = state.retire.filter((r) => !settled.includes(r));
    if (settled.length > 0) change.status = 'changed';
  }
  const pem = state.ask ? await files.read(paths.crt(state.ask.sha1)) : undefined;
  if (!state.ask || pem === undefined) {
    delete state.ask;
    await save(ctx, files, paths, state);
    if (change.notes.length === 0) note(change, `${me.name}: nothing left to confirm`);
    return { change, trusted: false };
  }
  const ca = caInfo(pem, paths.crt(state.ask.sha1));
  await writeLoginState(files, paths, state);
  if (trustIn(await dumpTrustSettings(ctx), state.ask.cn) === 'trusted') {
    delete state.ask;
    await save(ctx, files, paths, state);
    note(change, `${me.name}: the admin trust settings trust the CA for every user of this Mac`);
    return { change, trusted: true };
  }
  const result = await confirmForUser(ctx, me, ca, atLogin ? { mode: 'unless-declined', explain: true, answerWithinMs: LOGIN_ANSWER_TIMEOUT_MS } : { mode: 'always', explain: false });
  return { change: { ...result.change, notes: [...change.notes, ...result.change.notes] }, trusted: result.trusted };
}

export interface DomainAnswer {
  domain: 'admin' | 'user' | 'none';
  /** Whose trust settings were read besides the admin ones. */
  user?: MacUser;
  userTrust?: DomainTrust;
  state?: LoginTrustState;
}

/** Which trust domain makes the CA trusted for the user this command is about: who typed sudo, else who is at the screen. */
export async function trustDomain(ctx: TrustContext, ca: CaInfo): Promise<DomainAnswer> {
  const ref = caRef(ca);
  const adminTrust = trustIn(await dumpTrustSettings(ctx), ref.cn);
  const user = ctx.isRoot ? await subjectUser(ctx) : currentUser(ctx);
  if (!user) return { domain: adminTrust === 'trusted' ? 'admin' : 'none' };
  const userTrust = trustIn(await dumpTrustSettings(ctx, user), ref.cn);
  const state = await readLoginState(userFiles(ctx, user), userPaths(user.home));
  // A user's own setting wins over the admin one, "Never Trust" included.
  const domain = userTrust === 'trusted' ? 'user' : userTrust === 'absent' && adminTrust === 'trusted' ? 'admin' : 'none';
  return { domain, user, userTrust, ...(state ? { state } : {}) };
}

async function subjectUser(ctx: TrustContext): Promise<MacUser | undefined> {
  const name = sudoUserOf(ctx) ?? (await consoleUserName(ctx));
  return name === undefined ? undefined : (await localUsers(ctx)).find((u) => u.name === name);
}

/**
 * Earlier versions ran `security add-trusted-cert -d -k System.keychain` as
 * root, which on macOS 11 and later adds the certificate and then fails to
 * trust it. Root may remove that untrusted copy without asking anyone.
 */
async function dropUntrustedSystemCopy(ctx: TrustContext, ca: CaInfo, change: Change): Promise<void> {
  const ref = caRef(ca);
  const found = await ctx.runner('security', ['find-certificate', '-a', '-Z', SYSTEM_KEYCHAIN], { timeoutMs: READ_TIMEOUT_MS });
  if (!found.stdout.toUpperCase().includes(`SHA-1 HASH: ${ref.sha1}`)) return;
  if (trustIn(await dumpTrustSettings(ctx), ref.cn) !== 'absent') return;
  await runChecked(ctx.runner, 'security', ['delete-certificate', '-Z', ref.sha1, SYSTEM_KEYCHAIN], { timeoutMs: READ_TIMEOUT_MS });
  note(change, `removed the untrusted copy of the CA an earlier nhiicc left in ${SYSTEM_KEYCHAIN}`);
  if (change.status === 'unchanged') change.status = 'changed';
}

/**
 * An admin-domain entry recorded by an install made before macOS 11 is
 * removed with an administrator's password, typed in the session at the
 * screen; without anyone there it stays recorded for the next uninstall.
 */
async function removeAdminTrust(ctx: TrustContext, ca: CaInfo, records: TrustRecord[] | undefined, change: Change): Promise<void> {
  const admin = records?.filter((r) => r.user === undefined) ?? [];
  const ref = caRef(ca);
  if (admin.length > 0 && trustIn(await dumpTrustSettings(ctx), ref.cn) !== 'absent') {
    const consoleName = ctx.isRoot ? await consoleUserName(ctx) : undefined;
    const user = consoleName === undefined ? undefined : (await localUsers(ctx)).find((u) => u.name === consoleName);
    let outcome: Outcome = { answer: 'unattended', detail: 'nobody is logged in at this Mac to confirm' };
    if (user) {
      ctx.say?.(`asking ${user.name} to confirm: a macOS dialog on this Mac's screen asks for an administrator's password to remove the nhiicc CA from the admin trust settings`);
      const result = await ctx.runner('launchctl', ['asuser', String(user.uid), 'security', 'remove-trusted-cert', '-d', ca.file], { timeoutMs: ANSWER_TIMEOUT_MS });
      outcome = outcomeOf(result, ANSWER_TIMEOUT_MS / 60_000);
    }
    if (outcome.answer !== 'confirmed') {
      note(change, `the admin trust settings still trust the CA: ${outcome.detail}; run \`sudo nhiicc cert uninstall\` at this Mac, or Keychain Access → System → Certificates → “${ref.cn}” → Delete`);
      change.status = 'failed';
      return;
    }
    note(change, 'removed the CA from the admin trust settings');
    change.status = 'changed';
  }
  change.removed.push(...admin);
  if (ctx.isRoot) await dropUntrustedSystemCopy(ctx, ca, change);
}
