// Checks the service definitions: systemd unit (verify + offline security
// score), polkit rule, launchd plist, the Windows install steps (setup.mjs).
// What the packages hold is checked by packages.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import t from 'tap';
import { SERVICE_NODE_OPTIONS } from '../../src/server/service-node-options.js';
import { have, parseUnit, REPO, run } from './helpers.js';

const UNIT = path.join(REPO, 'systemd', 'nhiicc.service');
const SOCKET = path.join(REPO, 'systemd', 'nhiicc.socket');
const RULE = path.join(REPO, 'installers', 'linux', '60-nhiicc-pcscd.rules');
const PLIST = path.join(REPO, 'launchd', 'tw.nhiicc.plist');

t.test('every service definition starts node with the service node options, before the app', async (t) => {
  const definitions: Record<string, string> = {
    'systemd/nhiicc.service': fs.readFileSync(UNIT, 'utf8'),
    'launchd/tw.nhiicc.plist': fs.readFileSync(PLIST, 'utf8').replace(/<\/string>\s*<string>/g, ' '),
    'installers/windows/nhiicc.wxs': fs.readFileSync(path.join(REPO, 'installers', 'windows', 'nhiicc.wxs'), 'utf8'),
    'package.json start': JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts.start,
  };
  for (const [name, text] of Object.entries(definitions)) {
    for (const option of SERVICE_NODE_OPTIONS) t.match(text, new RegExp(`${option}[^\\n]*(nhiicc\\.mjs|cli\\.js)`), `${name}: ${option}`);
  }
});

t.test('systemd socket: loopback only, both families, one service process for all connections', async (t) => {
  const socket = parseUnit(fs.readFileSync(SOCKET, 'utf8'));
  t.same(socket.get('Socket.ListenStream'), ['127.0.0.1:7777', '[::1]:7777']);
  t.same(socket.get('Socket.Accept'), ['no'], 'the service takes the listening sockets (LISTEN_FDS)');
  t.same(socket.get('Install.WantedBy'), ['sockets.target'], 'listening from boot');
});

t.test('systemd unit: verify, hardening, exposure ≤ 2.5', { skip: have('systemd-analyze') ? false : 'systemd-analyze missing (apt-get install systemd)' }, async (t) => {
  // verify resolves ExecStart and the targets inside --root: a scratch root
  // with the distribution's units and a stand-in for the bundled node.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-unit-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'usr/lib/nhiicc/bin'), { recursive: true });
  fs.copyFileSync('/bin/true', path.join(root, 'usr/lib/nhiicc/bin/node'));
  fs.mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
  fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
  fs.copyFileSync(UNIT, path.join(root, 'etc/systemd/system/nhiicc.service'));
  fs.copyFileSync(SOCKET, path.join(root, 'etc/systemd/system/nhiicc.socket'));
  const verify = run('systemd-analyze', ['verify', `--root=${root}`, 'nhiicc.socket', 'nhiicc.service']);
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
  t.match(one('ExecStart') ?? '', /^\/usr\/lib\/nhiicc\/bin\/node --max-semi-space-size=1 --heap-growing-percent=50 --no-maglev \/usr\/lib\/nhiicc\/app\/nhiicc\.mjs serve --config-dir \/etc\/nhiicc$/, 'runs the bundled node on the app');
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
  t.same(plist.ProgramArguments, ['/usr/local/nhiicc/bin/node', '--max-semi-space-size=1', '--heap-growing-percent=50', '--no-maglev', '/usr/local/nhiicc/app/nhiicc.mjs', 'serve', '--config-dir', '/Library/Application Support/nhiicc']);
  t.equal(plist.KeepAlive, true);
  t.equal(plist.RunAtLoad, true);
  t.equal(plist.UserName, '_nhiicc', 'a dedicated user');
  t.equal(plist.StandardOutPath, '/Library/Logs/nhiicc/nhiicc.log');
  t.equal(plist.StandardErrorPath, '/Library/Logs/nhiicc/nhiicc.log');
});

const SETUP = path.join(REPO, 'installers', 'windows', 'setup.mjs');

t.test('setup.mjs (the MSI install steps) keeps a log; uninstall --purge leaves no config folder, that log included', async (t) => {
  const programData = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-programdata-'));
  t.teardown(() => fs.rmSync(programData, { recursive: true, force: true }));
  // Off Windows its own node.exe and sc.exe are missing: each step warns, none stops the rest.
  const env = { ...process.env, ProgramData: programData };
  t.equal(run(process.execPath, [SETUP, 'uninstall'], env).status, 0);
  const log = fs.readFileSync(path.join(programData, 'nhiicc', 'setup.log'), 'utf8');
  t.match(log, /^nhiicc: 1\/4 service: "nhiicc" stopped and removed by Windows Installer$/m);
  t.match(log, /^nhiicc: 4\/4 files:/m, 'every step is logged');
  t.equal(run(process.execPath, [SETUP, 'uninstall', '--purge'], env).status, 0);
  t.notOk(fs.existsSync(path.join(programData, 'nhiicc')), 'purge removes the folder, and nothing writes it again');
});

t.test("setup.mjs doctor sets the service's recovery with sc.exe: restart with back-off, also when it stops with an error", async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-sc-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  // A stand-in sc.exe on PATH records its arguments; one that knows no
  // failureflag (as Wine's) fails that command.
  const calls = path.join(work, 'calls');
  fs.writeFileSync(path.join(work, 'sc.exe'), `#!/bin/sh\necho "$*" >> ${calls}\n[ "$1" = failureflag ] && [ -n "$NO_FAILUREFLAG" ] && exit 1\nexit 0\n`, { mode: 0o755 });
  const doctor = (extra: Record<string, string>) => {
    const programData = fs.mkdtempSync(path.join(work, 'programdata-'));
    fs.rmSync(calls, { force: true });
    t.equal(run(process.execPath, [SETUP, 'doctor'], { ...process.env, PATH: `${work}:${process.env.PATH}`, ProgramData: programData, ...extra }).status, 0, 'doctor never fails');
    return { calls: fs.readFileSync(calls, 'utf8').trim().split('\n'), log: fs.readFileSync(path.join(programData, 'nhiicc', 'setup.log'), 'utf8') };
  };
  const windows = doctor({});
  t.same(windows.calls, ['failure nhiicc reset= 86400 actions= restart/5000/restart/5000/restart/30000', 'failureflag nhiicc 1'], 'restart after 5 s, 5 s, 30 s, counted again after a day; and on non-crash failures');
  t.match(windows.log, /^nhiicc: service recovery: restart after 5 s, 5 s, then 30 s \(counted again after a day\), also when it stops with an error$/m);
  const wine = doctor({ NO_FAILUREFLAG: '1' });
  t.match(wine.log, /^nhiicc: WARNING: sc\.exe failureflag nhiicc 1 failed \(exit 1\)/m, 'a failed sc.exe is a warning in the log');
  t.match(wine.log, /^nhiicc: service recovery: restart after 5 s, 5 s, then 30 s \(counted again after a day\) when it crashes$/m, 'and the log says what recovery there is');
});
