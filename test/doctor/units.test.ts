// The doctor's checks without the machine: pure functions, and the macOS,
// Windows and systemd branches through recorded command lines.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import t from 'tap';
import { NoCardError } from '../../src/pcsc/errors.js';
import { registerDoctorCommand } from '../../src/cli/doctor-command.js';
import { certificateCheck, trustChecks } from '../../src/doctor/certificate-checks.js';
import { hostsCheck, parseLsof, parseNetstat, parseSs, portCheck, type ProbeResult } from '../../src/doctor/network-checks.js';
import { findOfficialComponent, officialComponentCheck, type FileSystemView } from '../../src/doctor/official-component.js';
import { pcscChecks, type ReaderLayer } from '../../src/doctor/pcsc-checks.js';
import { serviceCheck } from '../../src/doctor/service-checks.js';
import { pcscChecksAsServiceUser } from '../../src/doctor/service-user.js';
import type { PcscStatus } from '../../src/pcsc/card-readers.js';
import { SCARD_E_NO_SERVICE, SCARD_W_SECURITY_VIOLATION } from '../../src/pcsc/port.js';
import { caRef } from '../../src/trust/darwin-trust-settings.js';
import { caInfo } from '../../src/trust/trust-store.js';
import { defaultTrustContext } from '../../src/trust/trust.js';
import { COMMAND_NOT_FOUND, type Runner } from '../../src/util/runner.js';
import { recordingRunner } from '../trust/recording-runner.js';
import { makeCertificate } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;

function fakeFiles(tree: Record<string, string[]>, existing: string[] = []): FileSystemView {
  return {
    exists: async (f) => existing.includes(f) || f in tree,
    list: async (d) => tree[d] ?? [],
  };
}

t.test('certificate: valid, expiring, expired, not yet valid, wrong names, wrong key or CA, missing', async (t) => {
  const good = await makeCertificate({ days: 400 });
  const files = { cert: good.certPem, key: good.keyPem, ca: good.caPem };
  const now = new Date();
  const ok = certificateCheck('/cfg', files, now);
  t.equal(ok.state, 'pass', ok.summary);
  t.match(ok.summary, /valid until .* for iccert\.nhi\.gov\.tw, localhost, 127\.0\.0\.1, ::1$/);

  const soon = await makeCertificate({ days: 10 });
  const expiring = certificateCheck('/cfg', { cert: soon.certPem, key: soon.keyPem, ca: soon.caPem }, now, '/cfg', 'linux');
  t.match(expiring, { state: 'fail', summary: /expires on .* \((9|10) days left\)/, fix: 'run `sudo nhiicc cert renew --config-dir /cfg`, then restart the nhiicc service' });
  t.match(certificateCheck('/cfg', { cert: soon.certPem, key: soon.keyPem, ca: soon.caPem }, now, undefined, 'win32').fix, /^run `nhiicc cert renew` from an elevated prompt/);

  t.match(certificateCheck('/cfg', files, new Date(Date.now() + 401 * DAY)), { state: 'fail', summary: /expired on/ });
  t.match(certificateCheck('/cfg', files, new Date(Date.now() - 2 * DAY)), { state: 'fail', summary: /not valid before/, fix: /date and time/ });
  t.match(certificateCheck('/cfg', files, new Date(Date.now() + 380 * DAY)), { state: 'fail', summary: /days left/ }, 'inside the 30 days');

  const wide = await makeCertificate({ days: 400, dnsNames: ['iccert.nhi.gov.tw', 'localhost', 'evil.example'] });
  t.match(certificateCheck('/cfg', { cert: wide.certPem, key: wide.keyPem, ca: wide.caPem }, now), { state: 'fail', summary: /evil\.example, 127\.0\.0\.1, ::1, not exactly/ });
  const narrow = await makeCertificate({ days: 400, ips: ['127.0.0.1'] });
  t.match(certificateCheck('/cfg', { cert: narrow.certPem, key: narrow.keyPem, ca: narrow.caPem }, now), { state: 'fail', summary: /not exactly/ });

  t.match(certificateCheck('/cfg', { ...files, key: soon.keyPem }, now), { state: 'fail', summary: /server\.key .* does not belong/ });
  t.match(certificateCheck('/cfg', { ...files, ca: soon.caPem }, now), { state: 'fail', summary: /not issued by the CA/ });
  t.match(certificateCheck('/cfg', {}, now), { state: 'fail', summary: 'no certificate in /cfg', fix: /sudo nhiicc cert init`, then `sudo nhiicc cert install/ });
  t.match(certificateCheck('/cfg', { cert: good.certPem }, now), { state: 'fail', summary: /server\.key, ca\.crt missing/ });
});

t.test('listener tables: ss, lsof -F, netstat', async (t) => {
  t.same(
    parseSs(
      'State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nLISTEN 0 511 127.0.0.1:7777 0.0.0.0:* users:(("node",pid=42,fd=20))\nLISTEN 0 511 [::1]:7777 [::]:* users:(("node",pid=42,fd=21))\nLISTEN 0 5 127.0.0.1:17777 0.0.0.0:* users:(("x",pid=1,fd=1))\n',
      7777,
    ),
    [
      { name: 'node', pid: 42, address: '127.0.0.1:7777' },
      { name: 'node', pid: 42, address: '[::1]:7777' },
    ],
  );
  t.same(parseSs('LISTEN 0 511 0.0.0.0:7777 0.0.0.0:*\n', 7777), [{ address: '0.0.0.0:7777' }], 'no process column without privileges');
  t.same(parseLsof('p321\ncmLNHIICC\nf5\nn*:7777\nf6\nn[::1]:7777\n'), [{ pid: 321, name: 'mLNHIICC', address: '*:7777' }]);
  t.same(
    parseNetstat('\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n  TCP    0.0.0.0:7777           0.0.0.0:0              LISTENING       4321\r\n  TCP    127.0.0.1:7777         127.0.0.1:50000        ESTABLISHED     4321\r\n  TCP    [::]:7777              [::]:0                 ABHÖREN         4321\r\n  TCP    0.0.0.0:77770          0.0.0.0:0              LISTENING       9\r\n', 7777),
    [
      { address: '0.0.0.0:7777', pid: 4321 },
      { address: '[::]:7777', pid: 4321 },
    ],
    'listening by foreign port 0, whatever the language of the state word',
  );
});

const other: ProbeResult = { kind: 'other', evidence: 'accepts connections but gave no HTTPS answer within 2000 ms' };
const official: ProbeResult = { kind: 'compatible', evidence: 'it answers GetVersion:0001' };

t.test('port on Linux: ss names the program', async (t) => {
  const rec = recordingRunner((line) => (line.startsWith('ss ') ? { stdout: 'State Recv-Q\nLISTEN 0 511 127.0.0.1:7777 0.0.0.0:* users:(("python3",pid=77,fd=3))\n' } : undefined));
  const { findListeners } = await import('../../src/doctor/network-checks.js');
  const check = await portCheck({ port: 7777, platform: 'linux', probe: async () => other, findListeners: (p) => findListeners(p, 'linux', rec.runner), configDir: '/cfg' });
  t.same(rec.lines, ['ss -ltnp sport = :7777']);
  t.match(check, { state: 'fail', summary: /^port 7777 is held by python3 \(pid 77\), not nhiicc/, fix: /stop that program \(NHI web pages always use port 7777\)/ });
});

t.test('port on macOS: lsof names the official component', async (t) => {
  const { findListeners } = await import('../../src/doctor/network-checks.js');
  const rec = recordingRunner(() => ({ stdout: 'p321\ncmLNHIICC\nf5\nn*:7777\n' }));
  const check = await portCheck({ port: 7777, platform: 'darwin', probe: async () => official, findListeners: (p) => findListeners(p, 'darwin', rec.runner), configDir: '/cfg' });
  t.same(rec.lines, ['lsof -nP +c 0 -iTCP:7777 -sTCP:LISTEN -Fpcn']);
  t.match(check, { state: 'fail', summary: /another NHI card component, not nhiicc: mLNHIICC \(pid 321\)/, fix: /remove the official NHI card component .*launchctl kickstart -k system\/tw\.nhiicc/ });

  const nothing = await portCheck({ port: 7777, platform: 'darwin', probe: async () => ({ kind: 'nothing' }), findListeners: async () => [], configDir: '/cfg' });
  t.match(nothing, { summary: 'nothing listens on port 7777', fix: 'start nhiicc: `sudo launchctl kickstart -k system/tw.nhiicc`' });
});

t.test('port on Windows: netstat and tasklist name the program', async (t) => {
  const { findListeners } = await import('../../src/doctor/network-checks.js');
  const rec = recordingRunner((line) => {
    if (line === 'netstat -ano -p TCP') return { stdout: '  TCP    0.0.0.0:7777           0.0.0.0:0              LISTENING       4321\r\n' };
    if (line.startsWith('tasklist')) return { stdout: '"mNHIICC.exe","4321","Services","0","12,345 K"\r\n' };
    return undefined;
  });
  const check = await portCheck({ port: 7777, platform: 'win32', probe: async () => other, findListeners: (p) => findListeners(p, 'win32', rec.runner), configDir: 'C:\\cfg', officialFound: true });
  t.same(rec.lines, ['netstat -ano -p TCP', 'netstat -ano -p TCPv6', 'tasklist /FI PID eq 4321 /FO CSV /NH']);
  t.match(check, { state: 'fail', summary: /another NHI card component, not nhiicc: mNHIICC\.exe \(pid 4321\)/, fix: /sc\.exe start nhiicc/ });

  const unnamed = await portCheck({ port: 7777, platform: 'win32', probe: async () => other, findListeners: async () => [], configDir: 'C:\\cfg' });
  t.match(unnamed.summary, /held by a program that could not be named, not nhiicc/);
});

t.test('port: nhiicc with another certificate than the config folder, or broken GetVersion', async (t) => {
  const base = { port: 7777, platform: 'linux' as const, findListeners: async () => [], configDir: '/cfg', expectedCertSha256: 'aa' };
  t.match(await portCheck({ ...base, probe: async () => ({ kind: 'nhiicc', certSha256: 'aa', getVersion: 'GetVersion:0001' }) }), { state: 'pass' });
  t.match(await portCheck({ ...base, probe: async () => ({ kind: 'nhiicc', certSha256: 'bb', getVersion: 'GetVersion:0001' }) }), {
    state: 'fail',
    summary: /serves another certificate than the one in \/cfg/,
    fix: /sudo systemctl restart nhiicc/,
  });
  t.match(await portCheck({ ...base, probe: async () => ({ kind: 'nhiicc', certSha256: 'aa', getVersion: 'WebSocket refused (HTTP 403)' }) }), { state: 'fail', summary: /GetVersion did not work/ });
});

t.test('service on Linux with systemd: the socket that starts it, else the service itself', async (t) => {
  const systemd = fakeFiles({}, ['/run/systemd/system', '/usr/lib/systemd/system/nhiicc.service']);
  const answers = (socket: [number, number], enabled: [number, string, string?], active: [number, string]) =>
    recordingRunner((line) => {
      if (line === 'systemctl is-enabled nhiicc.socket') return { code: socket[0], stdout: socket[0] ? 'disabled\n' : 'enabled\n' };
      if (line === 'systemctl is-active nhiicc.socket') return { code: socket[1], stdout: socket[1] ? 'inactive\n' : 'active\n' };
      if (line === 'systemctl is-enabled nhiicc') return { code: enabled[0], stdout: enabled[1], stderr: enabled[2] ?? '' };
      if (line === 'systemctl is-active nhiicc') return { code: active[0], stdout: active[1] };
      return { code: 1 };
    });
  const idle = answers([0, 0], [1, 'disabled\n'], [3, 'inactive\n']);
  t.match(await serviceCheck({ platform: 'linux', runner: idle.runner, files: systemd }), {
    state: 'pass',
    summary: 'nhiicc.socket listens on port 7777 and starts the nhiicc service on the first connection (the service is inactive: idle)',
  });
  t.same(idle.lines, ['systemctl is-enabled nhiicc.socket', 'systemctl is-active nhiicc.socket', 'systemctl is-active nhiicc']);
  const woken = answers([0, 0], [1, 'disabled\n'], [0, 'active\n']);
  t.match(await serviceCheck({ platform: 'linux', runner: woken.runner, files: systemd }), { state: 'pass', summary: /the service is running now/ });

  const alwaysOn = answers([1, 3], [0, 'enabled\n'], [0, 'active\n']);
  t.match(await serviceCheck({ platform: 'linux', runner: alwaysOn.runner, files: systemd }), { state: 'pass', summary: 'the nhiicc service is enabled and running' });
  const stopped = answers([1, 3], [0, 'enabled\n'], [3, 'failed\n']);
  t.match(await serviceCheck({ platform: 'linux', runner: stopped.runner, files: systemd }), {
    state: 'fail',
    summary: 'the nhiicc service is failed (enabled) and nhiicc.socket is not listening',
    fix: /sudo systemctl enable --now nhiicc\.socket.*journalctl -u nhiicc\.socket -u nhiicc/,
  });
  const manual = answers([1, 3], [1, 'disabled\n'], [0, 'active\n']);
  t.match(await serviceCheck({ platform: 'linux', runner: manual.runner, files: systemd }), { state: 'fail', fix: /sudo systemctl enable --now nhiicc\.socket/ });
  const absent = answers([1, 3], [1, '', 'Failed to get unit file state for nhiicc.service: No such file or directory\n'], [3, 'inactive\n']);
  t.match(await serviceCheck({ platform: 'linux', runner: absent.runner, files: systemd }), { state: 'fail', summary: 'the nhiicc service is not installed' });
});

t.test('service on Linux without systemd: informational, says whether the unit is installed, runs nothing', async (t) => {
  const rec = recordingRunner();
  const withUnit = await serviceCheck({ platform: 'linux', runner: rec.runner, files: fakeFiles({}, ['/lib/systemd/system/nhiicc.service']) });
  t.match(withUnit, { state: 'info', summary: /systemd is not running here.*unit installed at \/lib\/systemd\/system\/nhiicc\.service/, fix: /nhiicc serve/ });
  t.match(await serviceCheck({ platform: 'linux', runner: rec.runner, files: fakeFiles({}) }), { state: 'info', summary: /no nhiicc unit installed/ });
  t.same(rec.lines, [], 'no systemctl call that could only fail');
});

t.test('service on macOS: launchctl print', async (t) => {
  const running = recordingRunner(() => ({ stdout: 'system/tw.nhiicc = {\n\tactive count = 1\n\tstate = running\n\tpid = 88\n}\n' }));
  t.match(await serviceCheck({ platform: 'darwin', runner: running.runner, files: fakeFiles({}) }), { state: 'pass', summary: 'the nhiicc launch daemon is running (pid 88)' });
  t.same(running.lines, ['launchctl print system/tw.nhiicc']);
  const idle = recordingRunner(() => ({ stdout: 'system/tw.nhiicc = {\n\tstate = not running\n}\n' }));
  t.match(await serviceCheck({ platform: 'darwin', runner: idle.runner, files: fakeFiles({}) }), { state: 'fail', summary: /loaded but not running/, fix: /sudo launchctl kickstart -k system\/tw\.nhiicc/ });
  const missing = recordingRunner(() => ({ code: 113, stderr: 'Could not find service "tw.nhiicc" in domain for system' }));
  t.match(await serviceCheck({ platform: 'darwin', runner: missing.runner, files: fakeFiles({}) }), {
    state: 'fail',
    summary: /not loaded/,
    fix: /sudo launchctl bootstrap system \/Library\/LaunchDaemons\/tw\.nhiicc\.plist/,
  });
});

t.test('service on Windows: sc.exe query and qc', async (t) => {
  const sc = (query: Partial<{ code: number; stdout: string }>, qc: string) =>
    recordingRunner((line) => (line === 'sc.exe query nhiicc' ? query : line === 'sc.exe qc nhiicc' ? { stdout: qc } : { code: 1 }));
  const running = sc({ stdout: 'SERVICE_NAME: nhiicc\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : 4  RUNNING\r\n' }, '        START_TYPE         : 2   AUTO_START\r\n');
  t.match(await serviceCheck({ platform: 'win32', runner: running.runner, files: fakeFiles({}) }), { state: 'pass' });
  t.same(running.lines, ['sc.exe query nhiicc', 'sc.exe qc nhiicc']);
  const stopped = sc({ stdout: '        STATE              : 1  STOPPED\r\n' }, '        START_TYPE         : 3   DEMAND_START\r\n');
  t.match(await serviceCheck({ platform: 'win32', runner: stopped.runner, files: fakeFiles({}) }), {
    state: 'fail',
    summary: 'the nhiicc Windows service is not running (state 1)',
    fix: /`sc\.exe start nhiicc` from an elevated prompt and `sc\.exe config nhiicc start= auto`/,
  });
  const absent = sc({ code: 1060, stdout: '[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n' }, '');
  t.match(await serviceCheck({ platform: 'win32', runner: absent.runner, files: fakeFiles({}) }), { state: 'fail', summary: 'the nhiicc Windows service is not installed' });
  t.same(absent.lines, ['sc.exe query nhiicc']);
});

t.test('official component: files, processes, launchd jobs, Windows service', async (t) => {
  const share = '/usr/local/share/NHIICC';
  const linux = recordingRunner((line) => (line === 'pgrep -x mLNHIICC' ? { stdout: '1234\n' } : undefined));
  const found = await findOfficialComponent({
    platform: 'linux',
    runner: linux.runner,
    files: fakeFiles({ [share]: ['html', 'mLNHIICC', 'ReStart_NHIICC.sh'], [`${share}/html`]: ['ESample.html', 'esample.js', 'NHIICC.png'] }, [`${share}/mLNHIICC`]),
  });
  t.same(found, [`${share}/mLNHIICC`, `${share}/ReStart_NHIICC.sh`, `${share}/html/NHIICC.png`, 'running process mLNHIICC (pid 1234)']);
  t.same(linux.lines, ['pgrep -x mLNHIICC']);
  t.match(officialComponentCheck(found, 'linux'), { state: 'fail', fix: /sudo pkill -x mLNHIICC.*sudo \.\/UnInstall.*sudo systemctl restart nhiicc/ });

  const oursOnly = await findOfficialComponent({
    platform: 'linux',
    runner: recordingRunner(() => ({ code: 1 })).runner,
    files: fakeFiles({ [share]: ['html'], [`${share}/html`]: ['ESample.html', 'esample.js'] }),
  });
  t.same(oursOnly, [], "nhiicc's own ESample files are not the official component");
  t.match(officialComponentCheck(oursOnly, 'linux'), { state: 'pass' });

  const mac = await findOfficialComponent({
    platform: 'darwin',
    runner: recordingRunner(() => ({ code: 1 })).runner,
    files: fakeFiles({ '/Library/LaunchDaemons': ['tw.nhiicc.plist', 'com.nhi.NHIICC.plist', 'other.plist'] }),
  });
  t.same(mac, ['/Library/LaunchDaemons/com.nhi.NHIICC.plist']);
  t.match(officialComponentCheck(mac, 'darwin').fix, /launchctl bootout/);

  const win = recordingRunner(() => ({ stdout: 'SERVICE_NAME: mNHIICC\r\n        STATE              : 4  RUNNING\r\n' }));
  const winFound = await findOfficialComponent({ platform: 'win32', runner: win.runner, files: fakeFiles({}) });
  t.same(win.lines, ['sc.exe query mNHIICC']);
  t.same(winFound, ['Windows service mNHIICC (running)']);
  t.match(officialComponentCheck(winFound, 'win32').fix, /sc\.exe stop mNHIICC.*sc\.exe delete mNHIICC/);
  t.same(await findOfficialComponent({ platform: 'win32', runner: recordingRunner(() => ({ code: 1060 })).runner, files: fakeFiles({}) }), []);
});

t.test('hosts: resolver, hosts file, file mapped but resolver disagrees', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-doctor-hosts-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const mapped = path.join(dir, 'mapped');
  const empty = path.join(dir, 'empty');
  await fs.writeFile(mapped, '::1 localhost\n127.0.0.1 iccert.nhi.gov.tw\n');
  await fs.writeFile(empty, '127.0.0.1 localhost\n');
  t.match(await hostsCheck({ platform: 'linux', hostsFile: mapped }), { state: 'pass' });
  t.match(await hostsCheck({ platform: 'win32', hostsFile: empty }), { state: 'fail', fix: `run \`nhiicc hosts install\` from an elevated prompt --hosts-file ${empty}` });
  t.match(await hostsCheck({ platform: 'linux', resolves: async () => true }), { state: 'pass', summary: 'iccert.nhi.gov.tw resolves to loopback' });
  t.match(await hostsCheck({ platform: 'linux', resolves: async () => false }), { state: 'fail', fix: 'run `sudo nhiicc hosts install`' });
});

function fakeReaders(status: PcscStatus, read: () => Promise<string>): ReaderLayer {
  return {
    status: () => status,
    settled: async () => undefined,
    // The doctor's operation only hands back the reader's name; no card here to run it on.
    withCard: (async () => read()) as ReaderLayer['withCard'],
    close: async () => undefined,
  };
}

t.test('pcsc: unavailable, no reader, not an NHI card', async (t) => {
  const down = await pcscChecks(() => fakeReaders({ available: false, reason: 'the PC/SC service is not running', readers: [] }, async () => ''), 'linux');
  t.same(down.map((c) => `${c.id}:${c.state}`), ['pcsc-service:fail', 'readers:skip', 'card:skip']);
  t.match(down[0]!.fix, /sudo systemctl enable --now pcscd\.socket/);
  t.match((await pcscChecks(() => fakeReaders({ available: false, readers: [] }, async () => ''), 'win32'))[0]!.fix, /SCardSvr/);
  const none = await pcscChecks(() => fakeReaders({ available: true, readers: [] }, async () => ''), 'linux');
  t.same(none.map((c) => `${c.id}:${c.state}`), ['pcsc-service:pass', 'readers:fail', 'card:skip']);
  const foreign = await pcscChecks(
    () => fakeReaders({ available: true, readers: [{ name: 'R', cardPresent: true }] }, async () => {
      throw new NoCardError('not-accepted', 'the card in the reader is not an NHI card');
    }),
    'linux',
  );
  t.match(foreign[2], { id: 'card', state: 'fail', summary: /7004/ });
});

t.test('pcsc: an access-denied (0x8010006A) is a permission problem with the polkit fix, not a missing pcscd', async (t) => {
  // The reason text is the binding's; only the code decides.
  const denied: PcscStatus = { available: false, reason: 'PC/SC is not usable', code: SCARD_W_SECURITY_VIOLATION, readers: [] };
  const service = await pcscChecks(() => fakeReaders(denied, async () => ''), 'linux', 'nhiicc');
  t.same(service.map((c) => `${c.id}:${c.state}`), ['pcsc-service:fail', 'readers:skip', 'card:skip']);
  t.match(service[0], {
    summary: 'pcscd refuses user nhiicc (0x8010006A, SCARD_W_SECURITY_VIOLATION): polkit does not allow it to use PC/SC',
    fix: /^put back the polkit rule \/etc\/polkit-1\/rules\.d\/60-nhiicc-pcscd\.rules .*`sudo apt install --reinstall -o Dpkg::Options::=--force-confmiss nhiicc`.*the service retries by itself$/,
    details: { code: '0x8010006A', user: 'nhiicc' },
  });
  t.notMatch(service[0]!.fix, /install and start pcscd/);

  const alice = await pcscChecks(() => fakeReaders(denied, async () => ''), 'linux', 'alice');
  t.match(alice[0], { summary: /^pcscd refuses user alice /, fix: /active local session.*a polkit rule for alice/ });

  let opened = 0;
  const stopped = await pcscChecks(
    () => {
      opened++;
      return fakeReaders({ available: false, reason: 'x', code: SCARD_E_NO_SERVICE, readers: [] }, async () => '');
    },
    'linux',
    'nhiicc',
  );
  t.match(stopped[0], { summary: 'PC/SC service not reachable: x', fix: /install and start pcscd/, details: { code: '0x8010001D' } });
  t.equal(opened, 4, 'a stopped service is looked at four times');

  // libpcsclite sometimes reports pcscd's refusal as "no service" (the close beat its write).
  const answers: PcscStatus[] = [{ available: false, code: SCARD_E_NO_SERVICE, readers: [] }, denied];
  const raced = await pcscChecks(() => fakeReaders(answers.shift() ?? denied, async () => ''), 'linux', 'nhiicc');
  t.match(raced[0], { summary: /^pcscd refuses user nhiicc \(0x8010006A/ }, 'a refusal reported as no service is still a refusal');
});

t.test('pcsc as the service user: root runs the checks as nhiicc, the way systemd starts the service', async (t) => {
  const self = ['/usr/lib/nhiicc/bin/node', '/usr/lib/nhiicc/app/dist/cli.js'];
  const childChecks = [
    { id: 'pcsc-service', state: 'fail', summary: 'pcscd refuses user nhiicc', fix: 'put back the rule' },
    { id: 'readers', state: 'skip', summary: 'not checked' },
  ];
  const answering = (child: { code?: number; stdout?: string; stderr?: string }) =>
    recordingRunner((line) => (line === 'getent passwd nhiicc' ? { stdout: 'nhiicc:x:995:995::/nonexistent:/usr/sbin/nologin\n' } : child));
  const systemd = fakeFiles({}, ['/run/systemd/system']);

  const booted = answering({ stdout: JSON.stringify(childChecks) });
  const checked = await pcscChecksAsServiceUser({ platform: 'linux', runner: booted.runner, files: systemd, isRoot: true, self });
  t.same(booted.lines, [
    'getent passwd nhiicc',
    'systemd-run --quiet --wait --pipe --collect --uid=nhiicc --gid=nhiicc -- /usr/lib/nhiicc/bin/node /usr/lib/nhiicc/app/dist/cli.js doctor --pcsc-only',
  ]);
  t.same(checked, {
    kind: 'checked',
    checks: [
      { ...childChecks[0], summary: "pcscd refuses user nhiicc (as the service's user nhiicc)" },
      { ...childChecks[1], summary: "not checked (as the service's user nhiicc)" },
    ],
  });

  const plain = answering({ stdout: JSON.stringify(childChecks) });
  await pcscChecksAsServiceUser({ platform: 'linux', runner: plain.runner, files: fakeFiles({}), isRoot: true, self });
  t.same(plain.lines[1], 'setpriv --reuid=nhiicc --regid=nhiicc --clear-groups -- /usr/lib/nhiicc/bin/node /usr/lib/nhiicc/app/dist/cli.js doctor --pcsc-only', 'without systemd: setpriv');

  const broken = answering({ code: 1, stderr: 'Failed to start transient service unit: Access denied\n' });
  t.match(await pcscChecksAsServiceUser({ platform: 'linux', runner: broken.runner, files: systemd, isRoot: true, self }), {
    kind: 'unknown',
    note: { id: 'pcsc-service-user', state: 'info', summary: /^could not check PC\/SC as the service's user nhiicc \(`systemd-run`: Failed to start transient service unit: Access denied\): the lines above are root's/ },
  });
  const garbage = answering({ stdout: 'Usage: …' });
  t.match(await pcscChecksAsServiceUser({ platform: 'linux', runner: garbage.runner, files: systemd, isRoot: true, self }), { kind: 'unknown' }, 'output that is not checks');

  const noUser = recordingRunner(() => ({ code: 2 }));
  t.same(await pcscChecksAsServiceUser({ platform: 'linux', runner: noUser.runner, files: systemd, isRoot: true, self }), { kind: 'self' }, 'no service user: own checks');
  t.same(noUser.lines, ['getent passwd nhiicc']);
  const user = recordingRunner();
  t.same(await pcscChecksAsServiceUser({ platform: 'linux', runner: user.runner, files: systemd, isRoot: false, self }), { kind: 'self' }, 'not root: own checks');
  t.same(await pcscChecksAsServiceUser({ platform: 'darwin', runner: user.runner, files: systemd, isRoot: true, self }), { kind: 'self' });
  t.same(user.lines, [], 'nothing run when not root or not Linux');
});

t.test('doctor uses the service user’s PC/SC checks when it has them; --pcsc-only prints this process’s as JSON', async (t) => {
  const lines: string[] = [];
  let opened = 0;
  const deps = {
    platform: 'linux' as const,
    runner: recordingRunner(() => ({ code: 1 })).runner,
    trust: { platform: 'linux' as const, homeDirs: [], isRoot: true, env: {} },
    files: fakeFiles({}),
    resolves: async () => true,
    probe: async () => ({ kind: 'nothing' }) as const,
    out: (l: string) => lines.push(l),
    setExitCode: () => {},
  };
  const denied: PcscStatus = { available: false, code: SCARD_W_SECURITY_VIOLATION, readers: [] };
  const program = new Command().exitOverride();
  registerDoctorCommand(program, {
    ...deps,
    openReaders: () => {
      opened++;
      return fakeReaders({ available: true, readers: [] }, async () => '');
    },
    pcscAsServiceUser: async () => ({ kind: 'checked', checks: await pcscChecks(() => fakeReaders(denied, async () => ''), 'linux', 'nhiicc') }),
  });
  await program.parseAsync(['node', 'nhiicc', 'doctor', '--config-dir', '/nonexistent']);
  t.equal(opened, 0, "root's own PC/SC view is not asked for");
  t.match(lines.join('\n'), /^✗ pcsc-service +pcscd refuses user nhiicc \(0x8010006A, SCARD_W_SECURITY_VIOLATION\)/m);

  lines.length = 0;
  const child = new Command().exitOverride();
  registerDoctorCommand(child, { ...deps, openReaders: () => fakeReaders(denied, async () => '') });
  await child.parseAsync(['node', 'nhiicc', 'doctor', '--pcsc-only']);
  const printed = JSON.parse(lines.join('\n')) as Array<{ id: string; state: string; summary: string }>;
  t.same(printed.map((c) => `${c.id}:${c.state}`), ['pcsc-service:fail', 'readers:skip', 'card:skip']);
  t.match(printed[0]!.summary, /^pcscd refuses user \S+ \(0x8010006A/);
  t.notMatch(program.commands[0]!.helpInformation(), /pcsc-only/, 'the option is not in the help');
});

t.test('the command in-process with every dependency injected: text lines, JSON, exit code, --port validation', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-doctor-cli-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const cert = await makeCertificate({ days: 400 });
  await fs.writeFile(path.join(dir, 'server.crt'), cert.certPem);
  await fs.writeFile(path.join(dir, 'server.key'), cert.keyPem);
  await fs.writeFile(path.join(dir, 'ca.crt'), cert.caPem);
  const { cn } = caRef(caInfo(cert.caPem, path.join(dir, 'ca.crt')));
  const rec = recordingRunner((line) => {
    if (line === 'security dump-trust-settings -d') return { code: 1, stderr: 'SecTrustSettingsCopyCertificates: No Trust Settings were found.\n' };
    if (line === 'security dump-trust-settings') return { stdout: `Number of trusted certs = 1\nCert 0: ${cn}\n   Number of trust settings : 1\n` };
    if (line === 'launchctl print system/tw.nhiicc') return { stdout: '\tstate = running\n\tpid = 9\n' };
    if (line.startsWith('pgrep')) return { code: 1 };
    if (line.startsWith('lsof')) return { stdout: 'p9\ncnode\nn127.0.0.1:7777\n' };
    if (line.startsWith('defaults read')) return { code: 1 };
    return undefined;
  });
  const lines: string[] = [];
  const codes: number[] = [];
  const program = new Command().exitOverride();
  registerDoctorCommand(program, {
    platform: 'darwin',
    runner: rec.runner,
    trust: { platform: 'darwin', runner: rec.runner, homeDirs: [dir], isRoot: false, env: { USER: 'alice', HOME: dir } },
    files: fakeFiles({}),
    resolves: async () => true,
    openReaders: () =>
      fakeReaders({ available: true, readers: [{ name: 'ACS ACR39U', cardPresent: true }] }, async () => 'ACS ACR39U'),
    probe: async () => ({ kind: 'nothing' }),
    out: (l) => lines.push(l),
    setExitCode: (c) => codes.push(c),
  });
  await program.parseAsync(['node', 'nhiicc', 'doctor', '--config-dir', dir]);
  t.same(codes, [1]);
  const text = lines.join('\n');
  t.match(text, /^✓ pcsc-service {8}PC\/SC service reachable$/m);
  t.match(text, /^✓ card {16}NHI card in ACS ACR39U is readable$/m);
  t.match(text, /^✗ port {16}nothing listens on port 7777\n {22}fix: start nhiicc: `sudo launchctl kickstart -k system\/tw\.nhiicc`$/m);
  t.match(text, /^✓ service {13}the nhiicc launch daemon is running \(pid 9\)$/m);
  t.match(text, /^✓ trust-system {8}alice's own trust settings \(login keychain\) trust the nhiicc CA$/m);
  t.match(text, /^– browser-policy {6}local-network policy not set for .*\n {22}hint: optional: `sudo nhiicc browser-policy install`/m);
  t.match(text, /\n1 check failed$/);
  t.ok(rec.lines.includes('launchctl print system/tw.nhiicc'));
  t.ok(rec.lines.includes('security dump-trust-settings'));

  lines.length = 0;
  await program.parseAsync(['node', 'nhiicc', 'doctor', '--json', '--config-dir', dir, '--port', '7778']);
  const report = JSON.parse(lines.join('\n'));
  t.equal(report.ok, false);
  t.match(report.checks.find((c: { id: string }) => c.id === 'port'), { ok: false, state: 'fail', summary: 'nothing listens on port 7778', fix: /nhiicc serve --port 7778/ });

  await t.rejects(program.parseAsync(['node', 'nhiicc', 'doctor', '--port', '70000']), /--port must be a number from 1 to 65535/);
});

t.test('trust-nss: per browser database, what the NSS store reports (trusted, not, or why it could not look), each asked once', async (t) => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-doctor-nss-'));
  t.teardown(() => fs.rm(home, { recursive: true, force: true }));
  const chromium = path.join(home, '.pki/nssdb');
  const firefox = path.join(home, '.mozilla/firefox/p1');
  for (const db of [chromium, firefox]) {
    await fs.mkdir(db, { recursive: true });
    await fs.writeFile(path.join(db, 'cert9.db'), '');
  }
  const { caPem } = await makeCertificate({ days: 400 });
  const files = { ca: caPem };
  const nss = (checks: Array<{ id: string; state: string; summary: string; fix?: string }>) =>
    checks.filter((c) => c.id.startsWith('trust-nss:')).map((c) => ({ id: c.id, state: c.state, summary: c.summary, fix: c.fix }));
  const ctx = (runner: Runner, platform: NodeJS.Platform = 'linux', env: NodeJS.ProcessEnv = {}) =>
    defaultTrustContext({ platform, runner, homeDirs: [home], isRoot: false, env });

  const listed = recordingRunner((line) => ({ code: line.includes(`-d sql:${chromium} `) ? 0 : 255 }));
  t.match(nss(await trustChecks('/cfg', files, ctx(listed.runner))), [
    { id: `trust-nss:${chromium}`, state: 'pass', summary: `browser database sql:${chromium} trusts the nhiicc CA` },
    { id: `trust-nss:${firefox}`, state: 'fail', summary: `browser database sql:${firefox} does not trust the nhiicc CA`, fix: /close the browser first/ },
  ]);
  t.same(listed.lines.filter((l) => l.startsWith('certutil -L')).length, 2, 'one certutil lookup per database');

  const missing = recordingRunner((line) => (line.startsWith('certutil') ? { code: COMMAND_NOT_FOUND } : undefined));
  t.match(nss(await trustChecks('/cfg', files, ctx(missing.runner))), [
    { state: 'fail', summary: `cannot check sql:${chromium}: NSS certutil is not installed`, fix: /^install it \(Debian\/Ubuntu: `sudo apt install libnss3-tools`\), then run / },
    { state: 'fail', summary: `cannot check sql:${firefox}: NSS certutil is not installed` },
  ]);

  const windows = recordingRunner(() => ({ code: 1 }));
  t.match(nss(await trustChecks('/cfg', files, ctx(windows.runner, 'win32'))), [
    { state: 'fail', summary: `cannot check sql:${chromium}: NSS certutil not configured`, fix: /^set NHIICC_NSS_CERTUTIL to NSS certutil\.exe, then run / },
    { state: 'fail', summary: `cannot check sql:${firefox}: NSS certutil not configured` },
  ]);
  t.notOk(windows.lines.some((l) => l.includes(' -L ')), 'no NSS lookup without NSS certutil');
});
