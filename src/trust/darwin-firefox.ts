import fs from 'node:fs/promises';
import path from 'node:path';
import { readIfExists } from '../util/files.js';
import { emptyChange, type TrustContext, type TrustStore } from './trust-store.js';

/**
 * Firefox on macOS: nhiicc does not write into Firefox's own certificate
 * databases there. Firefox trusts certificates that the macOS trust settings
 * trust (a user's own or the admin ones) when its "enterprise roots" setting
 * is on, which it is by default since Firefox 120 ("Allow Firefox to
 * automatically trust third-party root certificates you install"). So the CA
 * the keychain trusts (darwin.ts) is the one Firefox trusts, with nothing
 * per profile to add or remove, no NSS tools (macOS has none), and no
 * managed policy that would mark every user's Firefox as "managed by your
 * organization". What is left is to notice profiles where the setting is off.
 */
export const FIREFOX_STORE = 'firefox-macos';
const PROFILES = path.join('Library', 'Application Support', 'Firefox', 'Profiles');
const PREF = 'security.enterprise_roots.enabled';
const DEFAULT_ON_SINCE = 120;

export const FIREFOX_FIX =
  'in Firefox: Settings → Privacy & Security → Certificates → tick “Allow Firefox to automatically trust third-party root certificates you install”, then restart Firefox';

export interface FirefoxProfile {
  dir: string;
  usesMacTrust: boolean;
  /** Why not, when it does not. */
  why?: string;
}

/** Every Firefox profile (one that has been used: it has prefs.js) under the given homes. */
export async function firefoxProfiles(homes: string[]): Promise<FirefoxProfile[]> {
  const profiles: FirefoxProfile[] = [];
  for (const home of homes) {
    const parent = path.join(home, PROFILES);
    const entries = await fs.readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((e) => e.isDirectory())) {
      const dir = path.join(parent, entry.name);
      const prefs = await readIfExists(path.join(dir, 'prefs.js'));
      if (prefs === undefined) continue;
      // user.js is applied after prefs.js at every start, so its value wins.
      const pref = lastBoolean(`${prefs}\n${(await readIfExists(path.join(dir, 'user.js'))) ?? ''}`, PREF);
      const version = Number(/^LastVersion=(\d+)\./m.exec((await readIfExists(path.join(dir, 'compatibility.ini'))) ?? '')?.[1] ?? NaN);
      if (pref === false) profiles.push({ dir, usesMacTrust: false, why: 'its “Allow Firefox to automatically trust third-party root certificates you install” is off' });
      else if (pref === undefined && version < DEFAULT_ON_SINCE) profiles.push({ dir, usesMacTrust: false, why: `Firefox ${version} uses the macOS trust settings only when told to` });
      else profiles.push({ dir, usesMacTrust: true });
    }
  }
  return profiles;
}

function lastBoolean(prefs: string, name: string): boolean | undefined {
  const escaped = name.replace(/\./g, '\\.');
  const all = [...prefs.matchAll(new RegExp(`^\\s*user_pref\\("${escaped}",\\s*(true|false)\\);`, 'gm'))];
  const last = all.at(-1)?.[1];
  return last === undefined ? undefined : last === 'true';
}

/** Changes nothing; reports Firefox profiles that would not follow the macOS trust settings. */
export function firefoxMacStore(ctx: TrustContext): TrustStore {
  const label = 'Firefox (follows the macOS trust settings)';
  const check = async () => {
    const change = emptyChange(FIREFOX_STORE);
    for (const p of await firefoxProfiles(ctx.homeDirs)) {
      if (p.usesMacTrust) {
        change.notes.push(`${label}: ${p.dir}: trusts what the macOS trust settings trust`);
      } else {
        change.notes.push(`${label}: ${p.dir}: does not follow the macOS trust settings: ${p.why}; ${FIREFOX_FIX}`);
        change.status = 'failed';
      }
    }
    return change;
  };
  return {
    name: FIREFOX_STORE,
    label,
    async available() {
      return ctx.platform === 'darwin' && (await firefoxProfiles(ctx.homeDirs)).length > 0;
    },
    install: check,
    async uninstall() {
      return emptyChange(FIREFOX_STORE);
    },
    async trustedIn() {
      return (await firefoxProfiles(ctx.homeDirs)).map((p) => ({ location: p.dir, trusted: p.usesMacTrust }));
    },
  };
}
