// Doctor on macOS: which trust domain trusts the CA (admin, this user, none),
// the fix for each "none", and Firefox profiles that would not follow.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { readCertificateFiles, trustChecks } from '../../src/doctor/certificate-checks.js';
import { ensureServerCertificate } from '../../src/tls/certificates.js';
import { firefoxProfiles } from '../../src/trust/darwin-firefox.js';
import { userPaths } from '../../src/trust/darwin-login-agent.js';
import { caRef, trustIn } from '../../src/trust/darwin-trust-settings.js';
import { caInfo, type TrustContext } from '../../src/trust/trust-store.js';
import { defaultTrustContext, installTrust } from '../../src/trust/trust.js';
import { fakeUsers, FakeMac } from '../trust/fake-mac.js';

async function setup(t: Test, atScreen: string | null = 'alice') {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-doctor-mac-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await ensureServerCertificate(dir);
  const mac = new FakeMac(await fakeUsers(t), atScreen ?? undefined);
  const ca = caInfo(await fs.readFile(path.join(dir, 'ca.crt'), 'utf8'), path.join(dir, 'ca.crt'));
  const check = async (ctx: Partial<TrustContext> = mac.root()) => trustChecks(dir, await readCertificateFiles(dir), defaultTrustContext(ctx));
  return { dir, mac, ca, ref: caRef(ca), check };
}

t.test('trusted by the admin domain, or by the user the command is about', async (t) => {
  const { mac, ref, check } = await setup(t);
  mac.admin.add(ref.cn);
  t.match(await check(), [{ id: 'trust-system', state: 'pass', summary: 'the admin trust settings trust the nhiicc CA, for every user of this Mac', details: { domain: 'admin', user: 'alice' } }]);
  mac.admin.clear();
  mac.trust.get('alice')!.add(ref.cn);
  t.match(await check(), [{ state: 'pass', summary: "alice's own trust settings (login keychain) trust the nhiicc CA", details: { domain: 'user', user: 'alice' } }]);
  t.match(await check(mac.root({ env: { SUDO_USER: 'bob' } })), [{ state: 'fail', summary: /^the nhiicc CA is not trusted for bob/ }], 'sudo: about the one who typed it');
  t.match(await check(mac.as('alice')), [{ state: 'pass', details: { domain: 'user', user: 'alice' } }], 'without sudo: about oneself');
});

t.test('not trusted: pending, declined twice, nobody logged in; each with its fix', async (t) => {
  const { dir, mac, ref, check } = await setup(t);
  await installTrust(dir, { context: mac.root({ prompt: 'never' }) });
  const crt = userPaths(mac.user('alice').home).crt(ref.sha1);
  const [pending] = await check();
  t.same(pending, {
    id: 'trust-system',
    state: 'fail',
    summary: 'the nhiicc CA is not trusted for alice: confirmation pending: alice is asked at their next login',
    fix: `run \`sudo nhiicc cert install\` while alice is logged in at this Mac and enter alice's login password when macOS asks; or by hand in Keychain Access: if “${ref.cn}” is not under login → Certificates, choose File → Import Items… and open ${crt} (⇧⌘G lets you type the path); double-click “${ref.cn}”, open Trust, set “When using this certificate” to “Always Trust”, close the window and enter alice's login password`,
    details: { domain: 'none', user: 'alice', declines: 0 },
  });

  mac.answer('alice', 'cancel', 'cancel');
  await installTrust(dir, { context: mac.root({ prompt: 'always' }) });
  await installTrust(dir, { context: mac.root({ prompt: 'always' }) });
  t.match(await check(), [{ summary: 'the nhiicc CA is not trusted for alice: alice declined twice, so nhiicc does not ask again', fix: /Keychain Access/, details: { declines: 2 } }]);

  mac.console = undefined;
  t.match(await check(), [
    { state: 'fail', summary: 'nobody is logged in at this Mac, and the admin trust settings do not trust the nhiicc CA', fix: 'log in at this Mac as the person who uses NHI pages and run `sudo nhiicc cert install`', details: { domain: 'none' } },
  ]);
});

t.test('the name security and Keychain Access show for our CA is its common name', async (t) => {
  const { ca, ref } = await setup(t);
  t.match(ref, { sha1: ca.sha1.toUpperCase(), cn: /^nhiicc local CA [0-9a-f]{8}$/ });
});

t.test('a user\'s "Never Trust" wins over the admin domain', async (t) => {
  const dump = 'Number of trusted certs = 2\nCert 0: Other CA\n   Number of trust settings : 0\nCert 1: nhiicc local CA 0a1b2c3d\n   Number of trust settings : 1\n   Trust Setting 0:\n      Result Type           : Deny\n';
  t.equal(trustIn(dump, 'nhiicc local CA 0a1b2c3d'), 'denied');
  t.equal(trustIn(dump, 'Other CA'), 'trusted');
  t.equal(trustIn(dump, 'nhiicc local CA 0a1b2c'), 'absent', 'the whole name, not a prefix');
  t.equal(trustIn('', 'Other CA'), 'absent');

  const { mac, ref, check } = await setup(t);
  mac.admin.add(ref.cn);
  mac.breakOn = (line) =>
    line.endsWith('sudo -H -u alice security dump-trust-settings') ? { stdout: `Number of trusted certs = 1\nCert 0: ${ref.cn}\n   Trust Setting 0:\n      Result Type           : Deny\n` } : undefined;
  t.match(await check(), [{ state: 'fail', summary: 'the nhiicc CA is not trusted for alice: alice set it to “Never Trust”', details: { domain: 'none' } }]);
});

t.test('Firefox: follows the macOS trust settings unless its setting is off, or it predates 120', async (t) => {
  const { mac, check } = await setup(t);
  const profiles = path.join(mac.user('alice').home, 'Library/Application Support/Firefox/Profiles');
  const profile = async (name: string, files: Record<string, string>) => {
    await fs.mkdir(path.join(profiles, name), { recursive: true });
    for (const [f, text] of Object.entries(files)) await fs.writeFile(path.join(profiles, name, f), text);
    return path.join(profiles, name);
  };
  const current = await profile('a.default-release', { 'prefs.js': 'user_pref("browser.x", 1);\n', 'compatibility.ini': '[Compatibility]\nLastVersion=128.0.3_20240722142043/20240722142043\n' });
  const off = await profile('b.work', { 'prefs.js': 'user_pref("security.enterprise_roots.enabled", false);\n' });
  const back = await profile('c.user-js', { 'prefs.js': 'user_pref("security.enterprise_roots.enabled", false);\n', 'user.js': 'user_pref("security.enterprise_roots.enabled", true);\n' });
  const old = await profile('d.old', { 'prefs.js': '', 'compatibility.ini': 'LastVersion=115.9.1_20240312/20240312\n' });
  await fs.mkdir(path.join(profiles, 'e.never-started'));
  t.same(
    (await firefoxProfiles([mac.user('alice').home])).sort((x, y) => x.dir.localeCompare(y.dir)),
    [
      { dir: current, usesMacTrust: true },
      { dir: off, usesMacTrust: false, why: 'its “Allow Firefox to automatically trust third-party root certificates you install” is off' },
      { dir: back, usesMacTrust: true },
      { dir: old, usesMacTrust: false, why: 'Firefox 115 uses the macOS trust settings only when told to' },
    ],
  );
  const checks = await check();
  t.match(
    checks.find((c) => c.id === `trust-firefox:${off}`),
    { state: 'fail', fix: 'in Firefox: Settings → Privacy & Security → Certificates → tick “Allow Firefox to automatically trust third-party root certificates you install”, then restart Firefox' },
  );
  t.match(checks.find((c) => c.id === `trust-firefox:${current}`), { state: 'pass', summary: `Firefox profile ${current} follows the macOS trust settings` });
  t.equal(checks.filter((c) => c.id.startsWith('trust-firefox:')).length, 4, 'one line per profile of alice, none of bob');
});
