// macOS trust, path by path, by the exact commands run (through a fake Mac:
// test/trust/fake-mac.ts) and the messages shown: confirmed at install,
// dismissed, nobody logged in, already trusted, a failing `security`, the
// login item (written, idempotent, removes itself, two declines), renewal,
// and uninstall for two users.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import t, { type Test } from 'tap';
import { registerCertCommand } from '../../src/cli/cert-command.js';
import { CliFailure } from '../../src/cli/fail.js';
import { ensureServerCertificate, renewCertificates } from '../../src/tls/certificates.js';
import { AGENT_LABEL, UNDO_SCRIPT, userPaths } from '../../src/trust/darwin-login-agent.js';
import { caRef } from '../../src/trust/darwin-trust-settings.js';
import { confirmOwnTrust, SYSTEM_KEYCHAIN } from '../../src/trust/darwin.js';
import { caInfo, type CaInfo, type TrustContext } from '../../src/trust/trust-store.js';
import { defaultTrustContext, installTrust, trustStatus, uninstallTrust } from '../../src/trust/trust.js';
import { fakeUsers, FakeMac, SELF, type FakeUser } from './fake-mac.js';

/** `atScreen`: who is logged in at the Mac's screen; null for nobody. */
async function setup(t: Test, atScreen: string | null = 'alice') {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-trust-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await ensureServerCertificate(dir);
  const users = await fakeUsers(t);
  const mac = new FakeMac(users, atScreen ?? undefined);
  const ca = await currentCa(dir);
  return { dir, mac, alice: users[0]!, bob: users[1]!, ca, ref: caRef(ca) };
}

async function currentCa(dir: string): Promise<CaInfo> {
  const file = path.join(dir, 'ca.crt');
  return caInfo(await fs.readFile(file, 'utf8'), file);
}

/** The command lines nhiicc runs for one user, as root. */
function lines(u: FakeUser, sha1: string) {
  const p = userPaths(u.home);
  const as = `sudo -u ${u.name}`;
  return {
    read: `${as} /bin/cat ${p.state}`,
    mkdir: `${as} /bin/mkdir -p ${p.dir} ${p.agents}`,
    crt: `${as} /usr/bin/tee ${p.crt(sha1)}`,
    state: `${as} /usr/bin/tee ${p.state}`,
    item: `${as} /usr/bin/tee ${p.plist}`,
    noItem: `${as} /bin/rm -rf ${p.plist}`,
    session: (cmd: string) => `launchctl asuser ${u.uid} sudo -H -u ${u.name} ${cmd}`,
    add: `security add-trusted-cert -r trustRoot -k ${p.keychain} ${p.crt(sha1)}`,
  };
}

const START = [`security find-certificate -a -Z ${SYSTEM_KEYCHAIN}`, 'security dump-trust-settings -d', 'dscl . -list /Users UniqueID'];

function users(...names: FakeUser[]) {
  return names.map((u) => `dscl . -read /Users/${u.name} NFSHomeDirectory`);
}

async function state(u: FakeUser) {
  return JSON.parse(await fs.readFile(userPaths(u.home).state, 'utf8'));
}

async function exists(file: string) {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

async function recorded(dir: string) {
  return JSON.parse(await fs.readFile(path.join(dir, 'trust-state.json'), 'utf8')).cas[0].records;
}

t.test('confirmed at install: the user at the screen is asked once; the other gets a login item', async (t) => {
  const { dir, mac, alice, bob, ref } = await setup(t);
  const a = lines(alice, ref.sha1);
  const b = lines(bob, ref.sha1);
  const said: string[] = [];
  const [change] = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined', say: (l) => said.push(l) }) });

  t.same(mac.lines, [
    ...START,
    ...users(alice, bob),
    'scutil',
    a.read,
    a.mkdir,
    a.crt,
    a.session('security dump-trust-settings'),
    a.session('osascript <explain>'),
    a.session(a.add),
    a.state,
    a.noItem,
    b.read,
    b.mkdir,
    b.crt,
    b.state,
    b.item,
  ]);
  t.ok(mac.trusts('alice', ref.cn), "alice's own trust settings trust the CA");
  t.same(said, [`asking alice to confirm: a macOS dialog on this Mac's screen asks for alice's login password to trust the nhiicc CA ${ref.cn}`]);
  t.equal(change?.status, 'changed', 'the person installing trusts it');
  t.same(change?.notes, [
    `macOS trust settings: alice: confirmed: their login keychain now trusts the CA (SHA-1 ${ref.sha1})`,
    'macOS trust settings: bob: not asked now: confirmation pending: bob is asked at their next login',
  ]);
  t.notOk(await exists(userPaths(alice.home).plist), 'no login item for alice');
  t.same(await state(alice), { version: 1, declines: 0, retire: [] });
  t.same(await state(bob), { version: 1, declines: 0, ask: ref, retire: [] });
  t.same(await recorded(dir), [
    { store: 'macos-keychain', location: userPaths(alice.home).keychain, name: ref.sha1, user: 'alice' },
    { store: 'macos-keychain', location: userPaths(bob.home).keychain, name: ref.sha1, user: 'bob' },
  ]);
});

t.test('dismissed: trust is missing, the install completes, the user is asked once more at their next login', async (t) => {
  const { dir, mac, alice, ref } = await setup(t);
  mac.answer('alice', 'continue', 'cancel');
  const [change] = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  t.equal(change?.status, 'pending');
  t.equal(
    change?.notes[0],
    'macOS trust settings: alice: canceled the macOS dialog: trust is missing for alice; confirmation pending: alice is asked once more at their next login',
  );
  t.notOk(mac.trusts('alice', ref.cn));
  t.ok(mac.keychains.get(userPaths(alice.home).keychain)?.has(ref.sha1), 'security leaves the certificate in the keychain even when declined');
  t.same(await state(alice), { version: 1, declines: 1, ask: ref, retire: [] });
  t.ok(await exists(userPaths(alice.home).plist), 'login item for alice');

  mac.rec.clear();
  mac.answer('alice', 'not-now');
  const [again] = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  t.match(again?.notes[0], /alice: chose "Not now": trust is missing for alice; alice declined twice, so nhiicc does not ask again/);
  t.same((await state(alice)).declines, 2);
  t.notOk(await exists(userPaths(alice.home).plist), 'no login item after two declines');

  mac.rec.clear();
  const [third] = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  t.notOk(mac.lines.some((l) => /osascript|add-trusted-cert/.test(l)), 'the installer never asks a third time');
  t.match(third?.notes[0], /alice: not asked: alice declined twice/);
  mac.rec.clear();
  await installTrust(dir, { context: mac.root({ prompt: 'always', env: { SUDO_USER: 'alice' } }) });
  t.ok(mac.lines.includes(lines(alice, ref.sha1).session(lines(alice, ref.sha1).add)), '`sudo nhiicc cert install` typed by alice asks her, without the explanation');
  t.notOk(mac.lines.some((l) => l.includes('osascript')));
  t.ok(mac.trusts('alice', ref.cn));
  t.same((await state(alice)).declines, 0);
});

t.test('nobody logged in (or a command-line install): no dialog, everyone is asked at their next login', async (t) => {
  const { dir, mac, alice, bob, ref } = await setup(t, null);
  const [change] = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  const a = lines(alice, ref.sha1);
  const b = lines(bob, ref.sha1);
  t.same(mac.lines, [...START, ...users(alice, bob), 'scutil', a.read, a.mkdir, a.crt, a.state, a.item, b.read, b.mkdir, b.crt, b.state, b.item]);
  t.equal(change?.status, 'pending');
  t.equal(change?.notes[0], 'macOS trust settings: nobody is logged in at this Mac: confirmation pending: each user is asked at their next login');

  mac.console = 'alice';
  mac.rec.clear();
  const [cli] = await installTrust(dir, { context: mac.root({ prompt: 'never' }) });
  t.same(mac.lines.filter((l) => l.startsWith('launchctl')), [a.session('security dump-trust-settings')], '--prompt never reads, never asks');
  t.equal(cli?.notes[0], 'macOS trust settings: alice: not asked now: confirmation pending: alice is asked at their next login');

  mac.rec.clear();
  await installTrust(dir, { context: mac.root({ env: { SUDO_USER: 'carol' } }) });
  t.notOk(mac.lines.some((l) => l.includes('osascript') || l.includes('add-trusted-cert')), 'sudo over ssh does not put a dialog on somebody else’s screen');
});

t.test('already trusted: by the user, or by the admin domain', async (t) => {
  const { dir, mac, alice, bob, ref } = await setup(t);
  mac.trust.get('alice')!.add(ref.cn);
  const [change] = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  const a = lines(alice, ref.sha1);
  t.same(mac.lines.slice(6, 12), [a.read, a.mkdir, a.crt, a.session('security dump-trust-settings'), a.state, a.noItem], 'no dialog');
  t.equal(change?.status, 'unchanged');
  t.equal(change?.notes[0], 'macOS trust settings: alice: already trusts the CA (their own trust settings)');
  t.match(change?.notes[1], /bob: not asked now/);

  mac.admin.add(ref.cn);
  mac.rec.clear();
  const [admin] = await installTrust(dir, { context: mac.root() });
  t.same(mac.lines, START.slice(0, 2));
  t.same(admin?.notes, ['macOS trust settings: the admin trust settings already trust the CA, for every user of this Mac']);
  t.equal(admin?.status, 'unchanged');
  t.ok(await exists(userPaths(bob.home).plist), "bob's login item stays: it finds the admin trust at his login and removes itself");
});

t.test('an untrusted copy an earlier version left in the System keychain is removed', async (t) => {
  const { dir, mac, ref } = await setup(t, null);
  mac.keychains.set(SYSTEM_KEYCHAIN, new Set([ref.sha1]));
  const [change] = await installTrust(dir, { context: mac.root() });
  t.same(mac.lines.slice(0, 3), [`security find-certificate -a -Z ${SYSTEM_KEYCHAIN}`, 'security dump-trust-settings -d', `security delete-certificate -Z ${ref.sha1} ${SYSTEM_KEYCHAIN}`]);
  t.equal(change?.notes[0], `macOS trust settings: removed the untrusted copy of the CA an earlier nhiicc left in ${SYSTEM_KEYCHAIN}`);
});

t.test('a failing security call never fails the whole install', async (t) => {
  const { dir, mac, alice, bob, ref } = await setup(t);
  mac.answer('alice', 'continue', 'broken');
  mac.breakOn = (line) => (line === lines(bob, ref.sha1).state ? { code: 1, stderr: 'tee: Permission denied\n' } : undefined);
  const changes = await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  t.equal(changes.length, 1);
  t.equal(changes[0]?.status, 'failed');
  t.same(changes[0]?.notes, [
    'macOS trust settings: alice: could not be asked (exit 1: SecTrustSettingsSetTrustSettings: Internal error.): trust is missing for alice; confirmation pending: alice is asked once more at their next login',
    `macOS trust settings: bob: \`sudo -u bob /usr/bin/tee ${userPaths(bob.home).state}\` failed (exit 1): tee: Permission denied`,
  ]);
  t.equal((await state(alice)).declines, 0, 'an error is no decline');
  t.ok(await exists(userPaths(alice.home).plist), 'alice is asked at her next login');
  t.equal((await recorded(dir)).length, 2, 'both users recorded, so uninstall looks at both');

  mac.breakOn = (line) => (line === 'security dump-trust-settings -d' ? { code: 1, stderr: 'SecTrustSettingsCopyCertificates: Internal error.\n' } : undefined);
  const [broken] = await installTrust(dir, { context: mac.root() });
  t.equal(broken?.status, 'failed');
  t.match(broken?.notes[0], /^macOS trust settings: `security dump-trust-settings -d` failed \(exit 1\): SecTrustSettingsCopyCertificates: Internal error\.$/);
});

t.test('the login item: written once, asks at login, removes itself once trust is in place', async (t) => {
  const { dir, mac, bob, ref } = await setup(t);
  await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  const p = userPaths(bob.home);
  const item = await fs.readFile(p.plist, 'utf8');
  const parsed = JSON.parse(
    execFileSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', p.plist], { encoding: 'utf8' }),
  );
  t.same(parsed, {
    Label: AGENT_LABEL,
    ProgramArguments: [...SELF, 'cert', 'confirm', '--at-login'],
    RunAtLoad: true,
    LimitLoadToSessionType: 'Aqua',
    StandardOutPath: p.log,
    StandardErrorPath: p.log,
  });
  t.notOk('KeepAlive' in parsed, 'launchd runs it once per login');

  const before = mac.lines.length;
  const firstState = await state(bob);
  await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  t.equal(await fs.readFile(p.plist, 'utf8'), item, 'installing again writes the same item');
  t.same(await state(bob), firstState);
  t.equal((await recorded(dir)).length, 2, 'and records nobody twice');
  t.same(mac.lines.slice(before).filter((l) => l.includes('-u bob')), mac.lines.slice(0, before).filter((l) => l.includes('-u bob')), 'with the same commands');

  // Bob logs in: his login item runs `nhiicc cert confirm --at-login` as bob.
  mac.rec.clear();
  const { change, trusted } = await confirmOwnTrust(defaultTrustContext(mac.as('bob')), true);
  t.same(mac.lines, [
    'security dump-trust-settings -d',
    'security dump-trust-settings',
    'osascript <explain>',
    `security add-trusted-cert -r trustRoot -k ${p.keychain} ${p.crt(ref.sha1)}`,
  ]);
  t.ok(trusted);
  t.same(change.notes, [`macOS trust settings: bob: confirmed: their login keychain now trusts the CA (SHA-1 ${ref.sha1})`]);
  t.notOk(await exists(p.plist), 'the login item removed itself');
  t.same(await state(bob), { version: 1, declines: 0, retire: [] });

  // An upgrade runs the install step again: bob is not at the screen, so he gets the item again...
  await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  t.ok(await exists(p.plist));
  mac.rec.clear();
  await confirmOwnTrust(defaultTrustContext(mac.as('bob')), true);
  t.same(mac.lines, ['security dump-trust-settings -d', 'security dump-trust-settings'], '...which finds the trust in place and asks nothing');
  t.notOk(await exists(p.plist), 'and removes itself again');
});

t.test('the decline counter: once per login, never again after two declines', async (t) => {
  const { dir, mac, bob } = await setup(t, null);
  await installTrust(dir, { context: mac.root() });
  const p = userPaths(bob.home);
  const login = () => confirmOwnTrust(defaultTrustContext(mac.as('bob')), true);

  mac.answer('bob', 'not-now');
  const first = await login();
  t.same(first.change.notes, ['macOS trust settings: bob: chose "Not now": trust is missing for bob; confirmation pending: bob is asked once more at their next login']);
  t.same((await state(bob)).declines, 1);
  t.ok(await exists(p.plist), 'asked again at the next login');

  mac.answer('bob', 'gave-up');
  const second = await login();
  t.match(second.change.notes[0], /bob: did not answer nhiicc's question within 10 minutes: trust is missing for bob; bob declined twice, so nhiicc does not ask again/);
  t.same((await state(bob)).declines, 2);
  t.notOk(await exists(p.plist), 'the login item removed itself');

  mac.rec.clear();
  await login();
  t.notOk(mac.lines.some((l) => l.includes('osascript') || l.includes('add-trusted-cert')), 'a third run asks nothing');

  mac.rec.clear();
  const typed = await confirmOwnTrust(defaultTrustContext(mac.as('bob')), false);
  t.ok(typed.trusted, '`nhiicc cert confirm` typed by bob asks regardless');
  t.notOk(mac.lines.some((l) => l.includes('osascript')), 'without the explanation');
});

t.test('status: trusted for the user at the screen or the one who typed sudo', async (t) => {
  const { dir, mac, ref } = await setup(t);
  mac.trust.get('bob')!.add(ref.cn);
  const ctx = mac.root();
  const forAlice = await trustStatus(dir, { context: ctx });
  t.same(forAlice.filter((s) => s.available), [{ store: 'macos-keychain', label: 'macOS trust settings', available: true, trusted: false }]);
  const forBob = await trustStatus(dir, { context: { ...ctx, env: { SUDO_USER: 'bob' } } });
  t.equal(forBob.find((s) => s.available)?.trusted, true);
});

t.test('renewal: the old CA leaves each user, the new one is asked for', async (t) => {
  const { dir, mac, bob, ref: old } = await setup(t);
  await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  await renewCertificates(dir);
  const ref = caRef(await currentCa(dir));
  mac.rec.clear();
  const changes = await installTrust(dir, { context: mac.root({ prompt: 'always' }) });
  t.notOk(mac.trusts('alice', old.cn), 'alice (at the screen) lost the old CA now');
  t.ok(mac.trusts('alice', ref.cn), 'and trusts the new one');
  t.match(changes[0]?.notes.join('\n'), new RegExp(`alice: removed ${old.cn} from their trust settings`));
  t.same(await state(bob), { version: 1, declines: 0, ask: ref, retire: [old] }, "bob's login item removes the old CA and asks for the new one");

  mac.trust.get('bob')!.add(old.cn);
  mac.keychains.set(userPaths(bob.home).keychain, new Set([old.sha1]));
  mac.rec.clear();
  await confirmOwnTrust(defaultTrustContext(mac.as('bob')), true);
  const p = userPaths(bob.home);
  t.same(mac.lines, [
    'security dump-trust-settings',
    `security remove-trusted-cert ${p.crt(old.sha1)}`,
    `security find-certificate -a -Z ${p.keychain}`,
    `security delete-certificate -Z ${old.sha1} ${p.keychain}`,
    'security dump-trust-settings -d',
    'security dump-trust-settings',
    'osascript <explain>',
    `security add-trusted-cert -r trustRoot -k ${p.keychain} ${p.crt(ref.sha1)}`,
  ]);
  t.notOk(mac.trusts('bob', old.cn));
  t.ok(mac.trusts('bob', ref.cn));
  t.notOk(await exists(p.crt(old.sha1)), "the old CA's copy is gone");
  t.notOk(await exists(p.plist));
  t.same((await recorded(dir)).map((r: { name: string }) => r.name), [ref.sha1, ref.sha1], 'only the new CA recorded');
});

t.test('uninstall for two users: the one at the screen now, the other at their next login', async (t) => {
  const { dir, mac, alice, bob, ref } = await setup(t);
  await installTrust(dir, { context: mac.root({ prompt: 'unless-declined' }) });
  await confirmOwnTrust(defaultTrustContext(mac.as('bob')), true);
  t.ok(mac.trusts('alice', ref.cn) && mac.trusts('bob', ref.cn), 'both trust it before');

  mac.rec.clear();
  const said: string[] = [];
  const [change] = await uninstallTrust(dir, { context: mac.root({ say: (l) => said.push(l) }) });
  const a = lines(alice, ref.sha1);
  const b = lines(bob, ref.sha1);
  const pa = userPaths(alice.home);
  const pb = userPaths(bob.home);
  t.same(mac.lines, [
    `security find-certificate -a -Z ${SYSTEM_KEYCHAIN}`,
    'dscl . -list /Users UniqueID',
    ...users(alice, bob),
    'scutil',
    a.read,
    a.session('security dump-trust-settings'),
    `sudo -u alice /bin/mkdir -p ${pa.dir}`,
    a.crt,
    a.session(`security remove-trusted-cert ${pa.crt(ref.sha1)}`),
    a.session(`security find-certificate -a -Z ${pa.keychain}`),
    a.session(`security delete-certificate -Z ${ref.sha1} ${pa.keychain}`),
    `sudo -u alice /bin/rm -rf ${pa.dir} ${pa.plist}`,
    b.read,
    b.mkdir,
    b.crt,
    b.state,
    b.item,
  ]);
  t.same(said, [`asking alice to confirm: a macOS dialog on this Mac's screen asks for alice's login password to remove the nhiicc CA ${ref.cn}`]);
  t.equal(change?.status, 'changed');
  t.same(change?.notes, [
    `macOS trust settings: alice: removed ${ref.cn} from their trust settings`,
    `macOS trust settings: alice: removed ${ref.cn} from their login keychain`,
    `macOS trust settings: bob: not asked now: ${ref.cn} leaves their trust settings and login keychain at their next login (macOS asks for their password if they trust it)`,
  ]);
  t.notOk(mac.trusts('alice', ref.cn));
  t.notOk(await exists(pa.dir), "alice's nhiicc folder is gone");
  await t.rejects(fs.access(path.join(dir, 'trust-state.json')), 'nothing left recorded');

  // nhiicc is gone; at bob's next login his login item runs with /bin/sh and /usr/bin/security only.
  const parsed = JSON.parse(execFileSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', pb.plist], { encoding: 'utf8' }));
  t.same(parsed.ProgramArguments, ['/bin/sh', '-c', UNDO_SCRIPT, 'nhiicc-undo', pb.dir, pb.keychain, pb.plist, ref.sha1, ref.cn]);
  const calls = await runUndo(t, mac, 'bob', parsed.ProgramArguments);
  t.same(calls, [
    'dump-trust-settings',
    `remove-trusted-cert ${pb.crt(ref.sha1)}`,
    `find-certificate -a -Z ${pb.keychain}`,
    `delete-certificate -Z ${ref.sha1} ${pb.keychain}`,
  ]);
  t.notOk(mac.trusts('bob', ref.cn), 'bob lost the trust');
  t.notOk(mac.keychains.get(pb.keychain)?.has(ref.sha1), 'and the certificate');
  t.notOk(await exists(pb.dir), 'his nhiicc folder is gone');
  t.notOk(await exists(pb.plist), 'and the login item with it');
});

t.test('uninstall of an admin-domain entry an install before macOS 11 recorded: an administrator confirms at the screen', async (t) => {
  const { dir, mac, ca, ref } = await setup(t, null);
  const legacy = { store: 'macos-keychain', location: SYSTEM_KEYCHAIN, name: ref.sha1 };
  await fs.writeFile(path.join(dir, 'trust-state.json'), JSON.stringify({ version: 1, cas: [{ sha256: ca.sha256, pem: ca.pem, records: [legacy] }] }));
  mac.admin.add(ref.cn);
  mac.keychains.set(SYSTEM_KEYCHAIN, new Set([ref.sha1]));
  const [kept] = await uninstallTrust(dir, { context: mac.root() });
  t.equal(kept?.status, 'failed');
  t.match(kept?.notes[0], /the admin trust settings still trust the CA: nobody is logged in at this Mac to confirm; run `sudo nhiicc cert uninstall` at this Mac, or Keychain Access → System → Certificates/);
  t.same(await recorded(dir), [legacy], 'kept for the next uninstall');

  mac.console = 'alice';
  mac.rec.clear();
  const [removed] = await uninstallTrust(dir, { context: mac.root() });
  t.same(mac.lines.slice(0, 7), [
    'security dump-trust-settings -d',
    'scutil',
    'dscl . -list /Users UniqueID',
    ...users(mac.user('alice'), mac.user('bob')),
    `launchctl asuser 501 security remove-trusted-cert -d ${ca.file}`,
    `security find-certificate -a -Z ${SYSTEM_KEYCHAIN}`,
  ]);
  t.ok(mac.lines.includes(`security delete-certificate -Z ${ref.sha1} ${SYSTEM_KEYCHAIN}`));
  t.equal(removed?.status, 'changed');
  t.notOk(mac.admin.has(ref.cn));
  t.notOk(mac.keychains.get(SYSTEM_KEYCHAIN)?.has(ref.sha1));
  await t.rejects(fs.access(path.join(dir, 'trust-state.json')), 'nothing left recorded');
});

t.test('the commands: cert install --prompt, cert confirm, cert uninstall', async (t) => {
  const { dir, mac, ref } = await setup(t);
  const lines: string[] = [];
  const run = async (context: Partial<TrustContext>, ...args: string[]) => {
    lines.splice(0);
    const program = new Command('nhiicc').exitOverride().configureOutput({ writeErr: () => {} });
    registerCertCommand(program, { out: (l) => void lines.push(l), trust: { context } });
    await program.parseAsync(args, { from: 'user' });
    return lines.join('\n');
  };
  await t.rejects(run(mac.root(), 'cert', 'install', '--prompt', 'sometimes', '--config-dir', dir), /argument 'sometimes' is invalid\. Allowed choices are always, unless-declined, never/);
  await t.rejects(run(mac.root(), 'cert', 'install', '--prompt', 'never', '--config-dir', dir), new CliFailure('install incomplete: macos-keychain: confirmation pending (see above)'));
  t.same(lines, [
    'macOS trust settings: alice: not asked now: confirmation pending: alice is asked at their next login',
    'macOS trust settings: bob: not asked now: confirmation pending: bob is asked at their next login',
  ]);

  mac.answer('bob', 'not-now');
  t.equal(
    await run(mac.as('bob'), 'cert', 'confirm', '--at-login'),
    `asking bob to confirm: a macOS dialog on this Mac's screen asks for bob's login password to trust the nhiicc CA ${ref.cn}\nmacOS trust settings: bob: chose "Not now": trust is missing for bob; confirmation pending: bob is asked once more at their next login`,
    'the login item never fails; its log says what happened',
  );
  mac.answer('bob', 'cancel');
  await t.rejects(run(mac.as('bob'), 'cert', 'confirm'), new CliFailure('the nhiicc CA is not trusted for you yet (see above)'));
  t.match(await run(mac.as('bob'), 'cert', 'confirm'), /bob: confirmed: their login keychain now trusts the CA/);
  await t.rejects(run(mac.root(), 'cert', 'confirm'), /run `nhiicc cert confirm` as yourself, without sudo/);
  await t.rejects(run({ platform: 'linux' }, 'cert', 'confirm'), /`nhiicc cert confirm` is for macOS; elsewhere run `sudo nhiicc cert install`/);

  t.match(await run(mac.root(), 'cert', 'install', '--config-dir', dir), /alice: confirmed/);
  t.match(lines[0], /^asking alice to confirm: a macOS dialog on this Mac's screen asks for alice's login password/, 'said before the dialog shows');
  const removed = await run(mac.root(), 'cert', 'uninstall', '--config-dir', dir);
  t.match(removed, new RegExp(`alice: removed ${ref.cn} from their trust settings[\\s\\S]*bob: not asked now: ${ref.cn} leaves their trust settings`));
});

/**
 * Runs the uninstalled login item's sh for real, with a `security` stub that
 * answers the reading calls as the fake Mac would for `name`; the calls that
 * change something are then applied to the fake Mac.
 */
async function runUndo(t: Test, mac: FakeMac, name: string, args: string[]): Promise<string[]> {
  const bin = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-undo-'));
  t.teardown(() => fs.rm(bin, { recursive: true, force: true }));
  const ctx = defaultTrustContext(mac.as(name));
  const keychain = args[5]!;
  await fs.writeFile(path.join(bin, 'dump'), (await ctx.runner('security', ['dump-trust-settings'])).stdout);
  await fs.writeFile(path.join(bin, 'find'), (await ctx.runner('security', ['find-certificate', '-a', '-Z', keychain])).stdout);
  await fs.writeFile(
    path.join(bin, 'security'),
    `#!/bin/sh\n(IFS='\t'; echo "$*") >> "${bin}/calls"\ncase "$1" in dump-trust-settings) cat "${bin}/dump" ;; find-certificate) cat "${bin}/find" ;; remove-trusted-cert) cp "$2" "${bin}/" ;; esac\n`,
    { mode: 0o755 },
  );
  const script = args[2]!.replaceAll('/usr/bin/security', path.join(bin, 'security'));
  execFileSync('/bin/sh', ['-c', script, ...args.slice(3)], { stdio: 'pipe' });
  const calls = (await fs.readFile(path.join(bin, 'calls'), 'utf8')).trim().split('\n').map((l) => l.split('\t'));
  // The script removed its folder, certificate copies included: the fake reads the copies kept by the stub.
  const kept = (c: string[]) => c.map((a) => (a.endsWith('.crt') ? path.join(bin, path.basename(a)) : a));
  for (const call of calls.filter((c) => c[0] === 'remove-trusted-cert' || c[0] === 'delete-certificate')) await ctx.runner('security', kept(call));
  return calls.map((c) => c.join(' '));
}
