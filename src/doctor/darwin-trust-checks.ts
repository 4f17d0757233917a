import { FIREFOX_FIX, firefoxProfiles } from '../trust/darwin-firefox.js';
import { MAX_DECLINES, userPaths } from '../trust/darwin-login-agent.js';
import { caRef } from '../trust/darwin-trust-settings.js';
import { type DomainAnswer, trustDomain } from '../trust/darwin.js';
import type { CaInfo, TrustContext } from '../trust/trust-store.js';
import { asAdmin, type Check, failed, passed, withConfigDir } from './check.js';

/**
 * `trust-system` on macOS says which trust domain makes the CA trusted for
 * the user doctor is about (who typed sudo, else who is at the screen):
 * the admin one, that user's own, or none, and how to fix none; then one
 * `trust-firefox:<profile>` per Firefox profile of that user.
 */
export async function darwinTrustChecks(ca: CaInfo, ctx: TrustContext, userDir?: string): Promise<Check[]> {
  const id = 'trust-system';
  const ref = caRef(ca);
  const install = asAdmin(withConfigDir('nhiicc cert install', userDir), 'darwin');
  let answer: DomainAnswer;
  try {
    answer = await trustDomain(ctx, ca);
  } catch (err) {
    return [failed(id, `could not read the macOS trust settings: ${(err as Error).message}`, `run ${install}`)];
  }
  const { user, state } = answer;
  const details = { domain: answer.domain, ...(user ? { user: user.name } : {}), ...(state ? { declines: state.declines } : {}) };
  const checks: Check[] = [];
  if (answer.domain === 'admin') {
    checks.push(passed(id, 'the admin trust settings trust the nhiicc CA, for every user of this Mac', details));
  } else if (answer.domain === 'user') {
    checks.push(passed(id, `${user!.name}'s own trust settings (login keychain) trust the nhiicc CA`, details));
  } else if (!user) {
    checks.push(failed(id, 'nobody is logged in at this Mac, and the admin trust settings do not trust the nhiicc CA', `log in at this Mac as the person who uses NHI pages and run ${install}`, details));
  } else {
    const name = user.name;
    const crt = state ? userPaths(user.home).crt(ref.sha1) : ca.file;
    const why =
      answer.userTrust === 'denied'
        ? `${name} set it to “Never Trust”`
        : state && state.declines >= MAX_DECLINES
          ? `${name} declined twice, so nhiicc does not ask again`
          : state?.ask
            ? `confirmation pending: ${name} is asked at their next login`
            : `neither ${name}'s own trust settings nor the admin ones trust it`;
    const byHand = `in Keychain Access: if “${ref.cn}” is not under login → Certificates, choose File → Import Items… and open ${crt} (⇧⌘G lets you type the path); double-click “${ref.cn}”, open Trust, set “When using this certificate” to “Always Trust”, close the window and enter ${name}'s login password`;
    checks.push(failed(id, `the nhiicc CA is not trusted for ${name}: ${why}`, `run ${install} while ${name} is logged in at this Mac and enter ${name}'s login password when macOS asks; or by hand ${byHand}`, details));
  }
  for (const profile of await firefoxProfiles(user ? [user.home] : ctx.homeDirs)) {
    const pid = `trust-firefox:${profile.dir}`;
    checks.push(
      profile.usesMacTrust
        ? passed(pid, `Firefox profile ${profile.dir} follows the macOS trust settings`)
        : failed(pid, `Firefox profile ${profile.dir} does not follow the macOS trust settings: ${profile.why}`, FIREFOX_FIX),
    );
  }
  return checks;
}
