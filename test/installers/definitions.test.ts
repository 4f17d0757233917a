// Checks the service definitions and the packages that do not need installing:
// systemd unit (verify + offline security score), polkit rule, launchd plist,
// .rpm file list and scriptlets, and the MSI's files, service and actions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import t from 'tap';
import { buildMsi } from '../../installers/windows/build.js';
import { buildRpm } from '../../installers/rpm/build.js';
import { SERVICE_NODE_OPTIONS } from '../../src/server/service-node-options.js';
import { have, parseUnit, REPO, run } from './helpers.js';

const UNIT = path.join(REPO, 'systemd', 'nhiicc.service');
const RULE = path.join(REPO, 'installers', 'linux', '60-nhiicc-pcscd.rules');
const PLIST = path.join(REPO, 'launchd', 'tw.nhiicc.plist');

t.test('every service definition starts node with the service node options, before the app', async (t) => {
  const definitions: Record<string, string> = {
    'systemd/nhiicc.service': fs.readFileSync(UNIT, 'utf8'),
    'launchd/tw.nhiicc.plist': fs.readFileSync(PLIST, 'utf8').replace(/<\/string>\s*<string>/g, ' '),
    'installers/windows/service/NhiiccService.cs': fs.readFileSync(path.join(REPO, 'installers', 'windows', 'service', 'NhiiccService.cs'), 'utf8'),
    'package.json start': JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts.start,
  };
  for (const [name, text] of Object.entries(definitions)) {
    for (const option of SERVICE_NODE_OPTIONS) t.match(text, new RegExp(`${option}[^\\n]*cli\\.js`), `${name}: ${option}`);
  }
});

t.test('systemd unit: verify, hardening, exposure ≤ 2.5', { skip: have('systemd-analyze') ? false : 'systemd-analyze missing (apt-get install systemd)' }, async (t) => {
  // verify resolves ExecStart and the targets inside --root: a scratch root
  // with the distribution's units and a stand-in for the bundled node.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-unit-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'opt/nhiicc/bin'), { recursive: true });
  fs.copyFileSync('/bin/true', path.join(root, 'opt/nhiicc/bin/node'));
  fs.mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
  fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
  fs.copyFileSync(UNIT, path.join(root, 'etc/systemd/system/nhiicc.service'));
  const verify = run('systemd-analyze', ['verify', `--root=${root}`, 'nhiicc.service']);
  t.equal(verify.status, 0, 'systemd-analyze verify', { output: verify.stderr });
  t.equal(verify.stderr.trim(), '', 'no warnings');

  const security = run('systemd-analyze', ['security', '--offline=true', UNIT]);
  const m = /Overall exposure level for nhiicc\.service: ([\d.]+)/.exec(security.stdout);
  t.ok(m, 'security report has an overall score', { output: security.stdout.slice(-500) });
  const score = Number(m?.[1]);
  t.ok(score <= 2.5, `exposure ${score} ≤ 2.5`);

  const unit = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  const one = (k: string) => unit.get(`Service.${k}`)?.join(' ');
  t.equal(one('User'), 'nhiicc', 'dedicated user');
  t.match(one('ExecStart') ?? '', /^\/opt\/nhiicc\/bin\/node --max-semi-space-size=1 \/opt\/nhiicc\/app\/dist\/cli\.js serve --config-dir \/etc\/nhiicc$/, 'runs the bundled node on the app');
  t.equal(one('Restart'), 'on-failure', 'restarts on failure');
  for (const [k, v] of Object.entries({
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
    CapabilityBoundingSet: '',
  })) {
    t.equal(one(k), v, `${k}=${v}`);
  }
  t.match(one('SystemCallFilter') ?? '', /^@system-service/, 'SystemCallFilter=@system-service');
  t.notOk(unit.has('Service.MemoryDenyWriteExecute'), 'MemoryDenyWriteExecute unset (V8 JIT)');
  t.equal(unit.get('Install.WantedBy')?.[0], 'multi-user.target', 'enabled for boot');
});

t.test('polkit rule: valid JS granting exactly nhiicc the two pcsc-lite actions', async (t) => {
  const source = fs.readFileSync(RULE, 'utf8');
  t.doesNotThrow(() => new vm.Script(source, { filename: RULE }), 'parses as JavaScript');
  // Evaluate it the way polkitd does: rules registered with polkit.addRule,
  // called with (action, subject), answering a polkit.Result or NOT_HANDLED.
  const rules: ((action: unknown, subject: unknown) => unknown)[] = [];
  const Result = { YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', NOT_HANDLED: null };
  vm.runInNewContext(source, { polkit: { Result, addRule: (f: (a: unknown, s: unknown) => unknown) => rules.push(f), log: () => {} } });
  t.equal(rules.length, 1, 'one rule');
  const decide = (id: string, user: string) => rules[0]!({ id }, { user, local: false, active: false, isInGroup: () => false });
  t.equal(decide('org.debian.pcsc-lite.access_pcsc', 'nhiicc'), 'yes', 'access_pcsc for nhiicc');
  t.equal(decide('org.debian.pcsc-lite.access_card', 'nhiicc'), 'yes', 'access_card for nhiicc');
  t.equal(decide('org.debian.pcsc-lite.access_pcsc', 'alice'), null, 'nothing for other users');
  t.equal(decide('org.freedesktop.login1.reboot', 'nhiicc'), null, 'nothing else for nhiicc');
  const pkcheck = have('pkcheck') ? run('pkcheck', ['--version']) : undefined;
  if (pkcheck) t.comment(`${pkcheck.stdout.trim()} is here but no polkitd/system bus runs and Debian 12's pcscd is built without polkit, so pkcheck cannot decide`);
});

t.test('launchd plist: parses and has the required keys', { skip: have('python3') ? false : 'python3 missing' }, async (t) => {
  const r = run('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', PLIST]);
  t.equal(r.status, 0, 'plistlib parses it', { stderr: r.stderr });
  const plist = JSON.parse(r.stdout) as Record<string, unknown>;
  t.equal(plist.Label, 'tw.nhiicc');
  t.same(plist.ProgramArguments, ['/usr/local/nhiicc/bin/node', '--max-semi-space-size=1', '/usr/local/nhiicc/app/dist/cli.js', 'serve', '--config-dir', '/Library/Application Support/nhiicc']);
  t.equal(plist.KeepAlive, true);
  t.equal(plist.RunAtLoad, true);
  t.equal(plist.UserName, '_nhiicc', 'a dedicated user');
  t.equal(plist.StandardOutPath, '/Library/Logs/nhiicc/nhiicc.log');
  t.equal(plist.StandardErrorPath, '/Library/Logs/nhiicc/nhiicc.log');
});

t.test('.rpm: file list and scriptlets', { skip: have('rpmbuild') ? false : 'rpmbuild missing', timeout: 120_000 }, async (t) => {
  const rpm = buildRpm();
  const files = run('rpm', ['-qlp', rpm]).stdout.split('\n');
  for (const f of [
    '/opt/nhiicc/bin/node',
    '/opt/nhiicc/app/dist/cli.js',
    '/opt/nhiicc/app/package.json',
    '/opt/nhiicc/app/node_modules/koffi/package.json',
    '/opt/nhiicc/libexec/nhiicc-setup',
    '/usr/bin/nhiicc',
    '/usr/lib/systemd/system/nhiicc.service',
    '/etc/polkit-1/rules.d/60-nhiicc-pcscd.rules',
  ]) {
    t.ok(files.includes(f), `has ${f}`);
  }
  if (fs.existsSync(path.join(REPO, 'html', 'ESample.html'))) t.ok(files.includes('/usr/local/share/NHIICC/html/ESample.html'), 'has the check page');
  t.notOk(files.some((f) => f.includes('/node_modules/tap/') || f.includes('/node_modules/typescript/')), 'no dev dependencies');
  const scripts = run('rpm', ['-qp', '--scripts', rpm]).stdout;
  t.match(scripts, /preinstall scriptlet[\s\S]*mLNHIICC/, '%pre warns about the official component');
  t.match(scripts, /postinstall scriptlet[\s\S]*nhiicc-setup install/, '%post runs the install steps');
  t.match(scripts, /preuninstall scriptlet[\s\S]*"\$1" -eq 0[\s\S]*nhiicc-setup remove/, '%preun removes only on erase, not upgrade');
  const requires = run('rpm', ['-qpR', rpm]).stdout;
  t.match(requires, /^pcsc-lite$/m, 'Requires: pcsc-lite');
  t.match(requires, /^nss-tools$/m, 'Requires: nss-tools');
  t.notMatch(requires, /libnode|GLIBC_PRIVATE/, 'no automatic requires from the bundled binaries');
});

t.test('.msi: files, service and install steps', { skip: have('wixl') && have('msiinfo') ? false : 'wixl/msiinfo missing (apt-get install wixl msitools)', timeout: 120_000 }, async (t) => {
  const msi = buildMsi();
  const table = (name: string) =>
    run('msiinfo', ['export', msi, name])
      .stdout.split(/\r?\n/)
      .slice(3)
      .filter(Boolean)
      .map((l) => l.split('\t'));
  const files = table('File').map((r) => r[2]);
  for (const f of ['node.exe', 'nhiicc-service.exe', 'setup.mjs', 'cli.js', 'package.json']) t.ok(files.includes(f), `has ${f}`);
  const [service] = table('ServiceInstall');
  t.equal(service?.[1], 'nhiicc', 'service name nhiicc');
  t.match(service?.[2] ?? '', /^nhiicc NHI card service \(replaces .*mNHIICC\)$/, 'display name says what it replaces');
  t.equal(service?.[4], '2', 'starts at boot (SERVICE_AUTO_START)');
  t.equal(service?.[8], 'NT SERVICE\\nhiicc', 'runs as its own virtual account');
  const control = table('ServiceControl')[0];
  t.equal(Number(control?.[2]) & 0x1, 0x1, 'started on install');
  t.equal(Number(control?.[2]) & 0xa0, 0xa0, 'stopped and removed on uninstall');
  const seq = new Map(table('InstallExecuteSequence').map((r) => [r[0], Number(r[2])]));
  t.ok(seq.get('InstallFiles')! < seq.get('NhiiccSetup')! && seq.get('NhiiccSetup')! < seq.get('StartServices')!, 'files, then cert/hosts, then service start');
  t.ok(seq.get('StartServices')! < seq.get('NhiiccDoctor')!, 'doctor after the service started');
  t.ok(seq.get('DeleteServices')! < seq.get('NhiiccTeardown')! && seq.get('NhiiccTeardown')! < seq.get('RemoveFiles')!, 'uninstall: service, then trust/hosts, then files');
  const actions = new Map(table('CustomAction').map((r) => [r[0], r]));
  for (const id of ['NhiiccSetup', 'NhiiccDoctor', 'NhiiccTeardown']) {
    const type = Number(actions.get(id)?.[1]);
    t.equal(type & 0x0c00, 0x0c00, `${id} is deferred and not impersonated (runs as LocalSystem)`);
    t.equal(type & 0x40, 0x40, `${id} never fails the installation`);
    t.match(actions.get(id)?.[3], /\[NHIICC_WINE_FLAG\]$/, `${id} is told when it runs under Wine`);
  }
  // Under Wine (the Windows test on Linux) the .NET service wrapper cannot run: it is left out, and setup.mjs says so.
  t.same(table('RegLocator')[0]?.slice(0, 4), ['WineHidBus', '2', 'System\\CurrentControlSet\\Services\\winebus', 'ImagePath'], 'Wine is found by its HID bus service');
  t.same(table('AppSearch')[0], ['WINE_DETECTED', 'WineHidBus']);
  t.equal(table('Component').find((r) => r[0] === 'ServiceComponent')?.[4], 'NOT WINE_DETECTED', 'the service wrapper is left out under Wine');
  t.same(table('CreateFolder')[0], ['INSTALLDIR', 'InstallDirComponent'], 'the program folder has a component of its own, so uninstall removes it then too');
  t.same(actions.get('NhiiccWineFlag')?.slice(2, 4), ['NHIICC_WINE_FLAG', '--wine']);
  t.ok(seq.get('NhiiccWineFlag')! < seq.get('InstallInitialize')!, 'the flag is set before the deferred steps are scheduled');
});

t.test('setup.mjs (the MSI install steps) keeps a log; uninstall --purge leaves no config folder, that log included', async (t) => {
  const programData = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-programdata-'));
  t.teardown(() => fs.rmSync(programData, { recursive: true, force: true }));
  const setup = path.join(REPO, 'installers', 'windows', 'setup.mjs');
  // Off Windows its own node.exe and sc.exe are missing: each step warns, none stops the rest.
  const env = { ...process.env, ProgramData: programData };
  t.equal(run(process.execPath, [setup, 'uninstall', '--wine'], env).status, 0);
  const log = fs.readFileSync(path.join(programData, 'nhiicc', 'setup.log'), 'utf8');
  t.match(log, /^nhiicc: 1\/4 service: none, skipped under Wine/m);
  t.match(log, /^nhiicc: 4\/4 files:/m, 'every step is logged');
  t.equal(run(process.execPath, [setup, 'uninstall', '--purge'], env).status, 0);
  t.notOk(fs.existsSync(path.join(programData, 'nhiicc')), 'purge removes the folder, and nothing writes it again');
});
