// NSS discovery and the Linux store's file handling with fake homes and
// folders, so every browser-profile layout is covered without touching them.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { describeCertificate, ensureServerCertificate } from '../../src/tls/certificates.js';
import { linuxSystemStore, type SystemAnchorLayout } from '../../src/trust/linux.js';
import { findNssDatabases, nssStore } from '../../src/trust/nss.js';
import { caInfo, isTrusted } from '../../src/trust/trust-store.js';
import { defaultTrustContext, installTrust, uninstallTrust } from '../../src/trust/trust.js';
import { recordingRunner } from './recording-runner.js';

async function tmp(t: { teardown(fn: () => unknown): void }, prefix: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function touch(file: string) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, '');
}

t.test('finds every NSS database layout, only where one exists', async (t) => {
  const alice = await tmp(t, 'nhiicc-alice-');
  const bob = await tmp(t, 'nhiicc-bob-');
  await touch(path.join(alice, '.pki/nssdb/cert9.db'));
  await touch(path.join(alice, 'snap/chromium/current/.pki/nssdb/cert9.db'));
  await touch(path.join(alice, '.mozilla/firefox/abc.default-release/cert9.db'));
  await touch(path.join(alice, '.mozilla/firefox/old.default/cert8.db'));
  await fs.mkdir(path.join(alice, '.mozilla/firefox/Crash Reports'), { recursive: true });
  await touch(path.join(bob, 'snap/firefox/common/.mozilla/firefox/x1.default/cert9.db'));
  await touch(path.join(bob, 'Library/Application Support/Firefox/Profiles/m.default/cert9.db'));
  await touch(path.join(bob, 'AppData/Roaming/Mozilla/Firefox/Profiles/w.default/cert9.db'));

  t.same((await findNssDatabases([alice, bob])).sort(), [
    `dbm:${alice}/.mozilla/firefox/old.default`,
    `sql:${alice}/.mozilla/firefox/abc.default-release`,
    `sql:${alice}/.pki/nssdb`,
    `sql:${alice}/snap/chromium/current/.pki/nssdb`,
    `sql:${bob}/AppData/Roaming/Mozilla/Firefox/Profiles/w.default`,
    `sql:${bob}/Library/Application Support/Firefox/Profiles/m.default`,
    `sql:${bob}/snap/firefox/common/.mozilla/firefox/x1.default`,
  ].sort());
});

t.test('NSS: exact certutil lines; uninstall removes only recorded databases', async (t) => {
  const dir = await tmp(t, 'nhiicc-cfg-');
  const home = await tmp(t, 'nhiicc-home-');
  await touch(path.join(home, '.pki/nssdb/cert9.db'));
  await touch(path.join(home, '.mozilla/firefox/p.default/cert9.db'));
  await ensureServerCertificate(dir);
  const { ca } = await describeCertificate(dir);
  const nick = `nhiicc local CA ${ca.sha256.slice(0, 16)}`;
  const present = new Set<string>();
  const rec = recordingRunner((_line, _cmd, args) => {
    const db = args[args.indexOf('-d') + 1]!;
    if (args[0] === '-L') return { code: present.has(db) ? 0 : 255 };
    if (args[0] === '-A') present.add(db);
    if (args[0] === '-D') present.delete(db);
    if (args[0] === '--version') return { code: 1 };
    return undefined;
  });
  const context = { platform: 'linux' as const, isRoot: false, runner: rec.runner, homeDirs: [home] };
  const stores = [nssStore(defaultTrustContext(context))];
  const a = `sql:${home}/.pki/nssdb`;
  const b = `sql:${home}/.mozilla/firefox/p.default`;
  const caFile = path.join(dir, 'ca.crt');

  await installTrust(dir, { context, stores });
  t.same(rec.lines, [
    'certutil --version',
    `certutil -L -d ${a} -n ${nick}`,
    `certutil -A -d ${a} -t C,, -n ${nick} -i ${caFile}`,
    `certutil -L -d ${b} -n ${nick}`,
    `certutil -A -d ${b} -t C,, -n ${nick} -i ${caFile}`,
  ]);

  // A profile created after install is not ours to clean.
  await touch(path.join(home, '.mozilla/firefox/new.default/cert9.db'));
  rec.clear();
  const [change] = await uninstallTrust(dir, { context, stores });
  t.same(rec.lines, [
    `certutil -L -d ${a} -n ${nick}`,
    `certutil -D -d ${a} -n ${nick}`,
    `certutil -L -d ${b} -n ${nick}`,
    `certutil -D -d ${b} -n ${nick}`,
  ]);
  t.equal(change?.removed.length, 2);
});

t.test('Linux system store: root writes one file and refreshes; others get a clear message', async (t) => {
  const dir = await tmp(t, 'nhiicc-cfg-');
  const anchors = await tmp(t, 'nhiicc-anchors-');
  const bundle = path.join(anchors, 'bundle.crt');
  const tls = await ensureServerCertificate(dir);
  const ca = caInfo(tls.ca, path.join(dir, 'ca.crt'));
  const layout: SystemAnchorLayout = {
    family: 'test',
    anchorDir: anchors,
    extension: '.crt',
    refresh: ['update-ca-certificates', []],
    refreshAfterRemove: ['update-ca-certificates', ['--fresh']],
    bundle,
  };
  const rec = recordingRunner(() => undefined);
  const base = { runner: rec.runner, platform: 'linux' as const, env: {}, homeDirs: [] };

  const userStore = linuxSystemStore({ ...base, isRoot: false }, [layout]);
  const denied = await userStore.install(ca);
  t.equal(denied.status, 'needs-privileges');
  t.match(denied.notes[0], /system certificate store: not changed, adding to it needs root \(run with sudo\)/);
  t.same(await fs.readdir(anchors), []);

  const rootStore = linuxSystemStore({ ...base, isRoot: true }, [layout]);
  const added = await rootStore.install(ca);
  const file = path.join(anchors, `nhiicc-${ca.sha256.slice(0, 16)}.crt`);
  t.same(added.added, [{ store: 'linux-system', location: file }]);
  t.equal(await fs.readFile(file, 'utf8'), tls.ca);
  t.same(rec.lines, ['update-ca-certificates']);
  await fs.writeFile(bundle, `other\n${tls.ca}`);
  t.ok(await isTrusted(rootStore, ca));

  rec.clear();
  await touch(path.join(anchors, 'someone-else.crt'));
  const removed = await rootStore.uninstall(ca, added.added);
  t.same(rec.lines, ['update-ca-certificates --fresh']);
  t.same(await fs.readdir(anchors), ['bundle.crt', 'someone-else.crt'], 'only our file removed');
  t.equal(removed.status, 'changed');
});
