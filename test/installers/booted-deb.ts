// The .deb on a booted Debian (systemd as PID 1, loopback only): install,
// the service as its own user, the page, trust and hosts, a virtual card
// read over wss, polkit both ways, the unit's sandbox as it takes effect,
// reboot, purge. Shared by the Debian 12 and 13 test files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { POLKIT_RULE } from '../../src/config/paths.js';
import { decryptEnCrypt } from '../helpers/legacy-decrypt.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { boot, bootableSpec, type BootedSystem, fetchPackages } from '../rootfs/booted.js';
import { ensureRootfs, overlay, type Suite } from '../rootfs/rootfs.js';
import { builtDeb } from './built-deb.js';
import { parseUnit, have } from './helpers.js';
import { NetnsAgent } from './netns-agent.js';

const TRUSTED_TEXT = '已確認為可信任服務';
const UNIT = '/usr/lib/systemd/system/nhiicc.service';
// The container has no network: everything comes from the apt cache fetchPackages filled.
const APT = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-y', '--no-install-recommends'];
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const chen = loadProfile('chen');

/** Why the booted test cannot run here, if it cannot. */
export function bootedTestMissing(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (mounts, systemd-nspawn)';
  for (const tool of ['mmdebstrap', 'systemd-nspawn', 'nsenter', 'flock', 'dpkg-deb', 'ip']) {
    if (!have(tool)) return `${tool} missing (test/run.sh installs mmdebstrap, systemd-container, util-linux, iproute2)`;
  }
  return undefined;
}

export interface BootedDebOptions {
  suite: Suite;
  /** pcsc-lite with polkit (Debian 13): check the rule both ways. */
  polkit: boolean;
}

export async function debOnBootedDebian(t: Test, opts: BootedDebOptions): Promise<void> {
  const { suite } = opts;
  const times: string[] = [];
  const step = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      const line = `${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`;
      times.push(line);
      t.comment(`step ${line}`);
    }
  };
  const begun = Date.now();

  const base = await step('root filesystem', () => ensureRootfs(bootableSpec(suite)));
  const { deb } = await step('the .deb (npm run package -- deb)', () => builtDeb());
  const layer = overlay(base, `deb-${suite}`);
  let system: BootedSystem | undefined;
  let agent: NetnsAgent | undefined;
  t.teardown(async () => {
    await agent?.stop();
    await system?.stop();
    layer.remove();
    t.comment(`${suite}: ${times.join('; ')}; whole test ${((Date.now() - begun) / 1000).toFixed(1)} s`);
  });
  const host = (p: string) => path.join(layer.root, p);
  const debInside = `/var/tmp/${path.basename(deb)}`;
  fs.copyFileSync(deb, host(debInside));
  await step('download packages (offline afterwards)', () => fetchPackages(layer.root, suite, [debInside, 'vsmartcard-vpcd']));

  system = await step('boot', () => boot(layer.root, `deb-${suite}`));
  const sys = system;
  const sh = async (script: string) => (await sys.sh(script)).stdout.trim();
  const hostsBefore = fs.readFileSync(host('/etc/hosts'));
  const page = () => sys.run(['curl', '-sS', '--max-time', '5', 'https://iccert.nhi.gov.tw:7777/']);

  const install = await step('apt-get install ./nhiicc.deb', () => sys.run([...APT, 'install', debInside], { timeoutMs: 180_000 }));
  const log = install.stdout + install.stderr;
  if (install.code !== 0) throw new Error(`apt-get install failed (${install.code}):\n${log.slice(-3000)}`);
  for (const s of ['1/7 files in place', '2/7 service user', '3/7 certificate', '4/7 trust', '5/7 hosts', '6/7 service', '7/7 doctor']) {
    t.match(log, new RegExp(`^nhiicc: ${s}`, 'm'), `install says: ${s}`);
  }
  t.notMatch(log, /nhiicc: WARNING/, 'no step warns', { log: log.slice(-3000) });
  t.match(log, /check page \/usr\/share\/nhiicc\/html\/ESample\.html, linked from \/usr\/local\/share\/NHIICC\/html/, 'says where the check page is');
  t.match(log, /6\/7 service: nhiicc\.socket enabled and listening on 127\.0\.0\.1:7777 and \[::1\]:7777; nhiicc\.service starts on the first connection/);
  t.match(log, /pcsc-service +.*\(as the service's user nhiicc\)/, "the install's doctor checks PC/SC as the service's user");
  t.equal(await sh('readlink /usr/local/share/NHIICC/html && test -f /usr/local/share/NHIICC/html/ESample.html && echo page'), '/usr/share/nhiicc/html\npage', 'the manual’s path leads to the page');
  const caPem = fs.readFileSync(host('/etc/nhiicc/ca.crt'), 'utf8');

  await step('service checks', async () => {
    await onlySystemdListens(t, sys, 'after the install');
    await answersInTime(t, sys, 'true', 'the first connection, which starts it', 1000);
    t.equal(await sh('systemctl is-active nhiicc; ps -o user= -p "$(systemctl show -p MainPID --value nhiicc)"'), 'active\nnhiicc', 'started by that connection, running as nhiicc');
    await answersInTime(t, sys, 'systemctl restart nhiicc', 'systemctl restart');
    const served = await page();
    t.equal(served.code, 0, 'curl without -k: the name resolves to loopback and the system store trusts the CA', { stderr: served.stderr });
    t.match(served.stdout, TRUSTED_TEXT, `the page says ${TRUSTED_TEXT}`);
    const esample = await sys.run(['curl', '-sS', '--max-time', '5', 'https://iccert.nhi.gov.tw:7777/ESample.html']);
    t.match(esample.stdout, /<html/i, 'the service serves the check page from /usr/share/nhiicc/html');
    t.equal(await sh('grep -c "iccert.nhi.gov.tw # added by nhiicc" /etc/hosts'), '1', 'one hosts line');
  });

  await step('sandbox as it takes effect', () => sandboxChecks(t, sys, host));

  // A card: vpcd's readers exist for pcscd only after its restart.
  agent = await step('vpcd and the virtual card', async () => {
    const vpcd = await sys.run([...APT, 'install', 'vsmartcard-vpcd'], { timeoutMs: 120_000 });
    t.equal(vpcd.code, 0, 'vsmartcard-vpcd installs offline', { stderr: vpcd.stderr.slice(-2000) });
    await sh('systemctl restart pcscd');
    const a = new NetnsAgent(sys);
    await a.insertCard();
    return a;
  });
  await step('GetBasic and the official flow over wss', () => officialFlow(t, agent!, host(CA_BUNDLE)));
  await step('socket activation: idle exit, started again by the next page', () => idleAndBack(t, sys, agent!, host(CA_BUNDLE)));

  if (opts.polkit) await step('polkit both ways', () => polkitBothWays(t, sys, agent!, host(CA_BUNDLE)));

  await step('reboot', async () => {
    await agent!.stop();
    agent = undefined;
    const state = await sys.reboot();
    t.equal(state, 'running', 'the system comes up without failed units');
    await onlySystemdListens(t, sys, 'after the reboot');
    await answersInTime(t, sys, 'true', 'the first connection after the boot', 1000);
    t.equal(await sh('systemctl is-active nhiicc; ps -o user= -p "$(systemctl show -p MainPID --value nhiicc)"'), 'active\nnhiicc', 'started by it, as nhiicc');
    t.match((await page()).stdout, TRUSTED_TEXT, 'the page, trusted, after the reboot');
    agent = new NetnsAgent(sys);
    await agent.insertCard();
    t.same(await agent.ask(['GetBasic'], host(CA_BUNDLE)), [`GetBasic:${expectedBasic(chen)}`], 'GetBasic after the reboot');
    await agent.stop();
    agent = undefined;
  });

  await step('apt-get purge', async () => {
    fs.rmSync(host(debInside));
    const purge = await sys.run([...APT, 'purge', 'nhiicc'], { timeoutMs: 120_000 });
    const plog = purge.stdout + purge.stderr;
    t.equal(purge.code, 0, 'apt-get purge succeeds', { log: plog.slice(-3000) });
    for (const s of ['1/5 service', '2/5 service', '3/5 trust', '4/5 hosts', '5/5 files', 'purge: removed /etc/nhiicc', 'purge: removed the user']) {
      t.match(plog, new RegExp(`^nhiicc: ${s}`, 'm'), `purge says: ${s}`);
    }
    t.notMatch(plog, /nhiicc: WARNING/, 'no step warns', { log: plog.slice(-3000) });
    t.notMatch(plog, /not empty so not removed/, 'dpkg leaves no folder behind');
    t.equal(await sh('getent passwd nhiicc; getent group nhiicc; pgrep -f "[c]li.js serve"; systemctl list-unit-files "nhiicc*" --no-legend; dpkg-query -W nhiicc 2>/dev/null; true'), '', 'no user, group, process, unit or package');
    t.ok(fs.readFileSync(host('/etc/hosts')).equals(hostsBefore), '/etc/hosts byte-identical to before the install');
    const caBody = caPem.replace(/-----[^-]+-----|\s/g, '');
    t.notOk(fs.readFileSync(host(CA_BUNDLE), 'utf8').replace(/\s/g, '').includes(caBody), 'the CA is no longer in the system bundle');
    t.same(fs.readdirSync(host('/usr/local/share/ca-certificates')), [], 'no CA file left for update-ca-certificates');
    t.same(namesContaining(layer.changes, /nhiicc/i), [], 'no file or folder named nhiicc anywhere in what the run changed');
    t.notOk(fs.existsSync(host('/usr/local/share/NHIICC')), 'the link and its folder are gone');
  });
}

/**
 * Runs `first` inside, then checks the service answers within `bound` ms. On
 * a machine running more than its cores can (other tests, other users),
 * node's start stretches by that factor: the bound does too, and says so.
 */
async function answersInTime(t: Test, sys: BootedSystem, first: string, after: string, bound = 2000): Promise<void> {
  const ms = Number((await sys.sh(answersWithin(first))).stdout.trim());
  const load = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const factor = Math.max(1, load / os.cpus().length);
  const why = factor > 1 ? `${bound} ms × load ${load} / ${os.cpus().length} cores` : `${bound} ms`;
  t.ok(ms <= bound * factor, `answers https://127.0.0.1:7777/ ${ms} ms after ${after} (≤ ${why})`);
}

/** Socket activation at rest: systemd holds 127.0.0.1:7777 and [::1]:7777, and no nhiicc process runs. */
async function onlySystemdListens(t: Test, sys: BootedSystem, when: string): Promise<void> {
  const sh = async (script: string) => (await sys.sh(script)).stdout.trim();
  t.equal(await sh('systemctl is-enabled nhiicc.socket; systemctl is-active nhiicc.socket; systemctl is-active nhiicc; pgrep -u nhiicc || true'), 'enabled\nactive\ninactive', `${when}: the socket listens, the service does not run`);
  const listeners = await sh("ss -Htlnp 'sport = :7777'");
  t.match(listeners, /127\.0\.0\.1:7777 .*users:\(\("systemd",pid=1,/, `${when}: systemd holds 127.0.0.1:7777`);
  t.match(listeners, /\[::1\]:7777 .*users:\(\("systemd",pid=1,/, `${when}: and [::1]:7777`);
  t.equal(listeners.split('\n').length, 2, `${when}: nothing else listens on 7777`);
}

/**
 * With the idle period cut to a few seconds by a drop-in, the service exits
 * once its last page is gone, systemd keeps the port, and the next page
 * starts it again and gets its answers.
 */
async function idleAndBack(t: Test, sys: BootedSystem, agent: NetnsAgent, ca: string): Promise<void> {
  const sh = async (script: string) => (await sys.sh(script)).stdout.trim();
  await sh('mkdir -p /etc/systemd/system/nhiicc.service.d && printf "[Service]\\nEnvironment=NHIICC_IDLE_EXIT=3\\n" > /etc/systemd/system/nhiicc.service.d/idle.conf && systemctl daemon-reload && systemctl stop nhiicc');
  await onlySystemdListens(t, sys, 'stopped');
  t.same(await agent.ask(['GetVersion', 'GetBasic'], ca), ['GetVersion:0001', `GetBasic:${expectedBasic(chen)}`], 'a page starts it: GetVersion, then GetBasic answered');
  const pid = await sh('systemctl show -p MainPID --value nhiicc');
  t.not(pid, '0', 'the service runs');
  const closed = Date.now();
  let state = '';
  for (let i = 0; i < 40 && state !== 'inactive'; i++) {
    await sleep(250);
    state = await sh('systemctl is-active nhiicc || true');
  }
  t.equal(state, 'inactive', `it exits by itself ${((Date.now() - closed) / 1000).toFixed(1)} s after the page left (idle period 3 s)`);
  t.match(await sh(`journalctl -u nhiicc _PID=${pid} -o cat --no-pager | tail -3`), /no connection for a while: stopping/, 'saying why');
  await onlySystemdListens(t, sys, 'idle');
  t.same(await agent.ask(['GetVersion'], ca), ['GetVersion:0001'], 'the next page starts it again');
  await sh('rm -rf /etc/systemd/system/nhiicc.service.d && systemctl daemon-reload && systemctl restart nhiicc');
}

/** A shell script: runs `first`, then prints how many ms until https://127.0.0.1:7777/ answered (gives up after 10 s). */
function answersWithin(first: string): string {
  return `${first}
start=$(date +%s%N)
until curl -sk -o /dev/null --max-time 1 https://127.0.0.1:7777/; do
  [ $(( $(date +%s%N) - start )) -gt 10000000000 ] && break
  sleep 0.05
done
echo $(( ($(date +%s%N) - start) / 1000000 ))`;
}

/** Paths under dir whose own name matches. */
function namesContaining(dir: string, re: RegExp): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((rel) => re.test(path.basename(rel)))
    .sort();
}

async function officialFlow(t: Test, agent: NetnsAgent, ca: string): Promise<void> {
  const before = new Date();
  const [basic, version, encrypted] = await agent.ask(['GetBasic', 'GetVersion', 'EnCrypt?Pwd=123456'], ca);
  const after = new Date();
  t.equal(basic, `GetBasic:${expectedBasic(chen)}`, 'GetBasic returns the card');
  t.match(version, /^GetVersion:\d+/, 'GetVersion');
  t.match(encrypted, /^EnCrypt:[0-9A-F]+$/, 'EnCrypt answers');
  const hex = encrypted!.slice('EnCrypt:'.length);
  const decrypted = [before, after].map((at) => {
    try {
      return decryptEnCrypt(hex, chen.cardNo, at);
    } catch {
      return undefined;
    }
  });
  t.ok(decrypted.includes('123456'), 'EnCrypt decrypts to the password with the card number and the Taiwan date');
}

/**
 * A copy of the installed unit with only its command changed runs the
 * probe: every claim of the unit is checked by what the process meets.
 */
async function sandboxChecks(t: Test, sys: BootedSystem, host: (p: string) => string): Promise<void> {
  const unitText = fs.readFileSync(host(UNIT), 'utf8');
  fs.copyFileSync(new URL('./sandbox-probe.mjs', import.meta.url), host('/usr/local/lib/sandbox-probe.mjs'));
  const service = unitText
    .replace(/^\[Install\][\s\S]*$/m, '')
    .replace(/^(ExecStart|Type|Restart|RestartSec)=.*$/gm, '')
    .replace(/^\[Service\]$/m, '[Service]\nType=oneshot\nExecStart=/usr/lib/nhiicc/bin/node /usr/local/lib/sandbox-probe.mjs');
  await sys.run(['sh', '-c', 'cat > /run/systemd/system/sandbox-probe.service && touch /tmp/sandbox-probe-marker && systemctl daemon-reload'], { input: service });
  const started = await sys.run(['systemctl', 'start', 'sandbox-probe.service']);
  const out = (await sys.run(['journalctl', '-u', 'sandbox-probe', '-o', 'cat', '--no-pager'])).stdout;
  await sys.sh('rm -f /run/systemd/system/sandbox-probe.service /usr/local/lib/sandbox-probe.mjs /tmp/sandbox-probe-marker; systemctl daemon-reload');
  t.equal(started.code, 0, 'the probe runs under the unit’s settings', { stderr: started.stderr, out });
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the probe printed nothing usable: ${out}`);
  const p = JSON.parse(line) as Record<string, unknown>;
  const unit = parseUnit(unitText);
  t.equal(p.user, 'nhiicc', 'User=nhiicc');
  t.equal(p.noNewPrivs, '1', 'NoNewPrivileges=yes');
  t.equal(p.seccomp, '2', 'a system call filter (SystemCallFilter=)');
  t.equal(p.capEff, '0000000000000000', 'no capabilities');
  t.equal(p.capBnd, '0000000000000000', 'CapabilityBoundingSet= empty');
  t.equal(p.writeUsr, 'EROFS', 'ProtectSystem=strict: /usr read-only');
  t.equal(p.writeConfig, 'EROFS', 'ProtectSystem=strict: /etc/nhiicc read-only');
  t.equal(p.readKey, 'ok', 'but the key is readable (group nhiicc)');
  t.match(p.rootHome, /^(EACCES|ENOENT)$/, 'ProtectHome=yes');
  t.equal(p.hostTmpMarker, false, 'PrivateTmp=yes');
  t.equal(p.pid1, 'ENOENT', 'ProtectProc=invisible: other users’ processes are hidden');
  // char/ holds systemd's links to the devices it let in.
  const pseudo = new Set(['char', 'console', 'core', 'fd', 'full', 'hugepages', 'log', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
  t.same((p.devices as string[]).filter((d) => !pseudo.has(d)), [], 'PrivateDevices=yes: only pseudo devices');
  t.not(p.userNamespace, 0, 'RestrictNamespaces=yes: no new user namespace');
  t.match(p.netlink, /system error 97\b/, 'RestrictAddressFamilies=: no netlink socket (EAFNOSUPPORT)');
  t.not((p.uidMap as string[]).join(','), '0 0 4294967295', 'PrivateUsers=yes: a user namespace of its own');
  t.equal(p.fileMode, '600', 'UMask=0077');
  t.equal(p.otherPort === 'bound', !unit.has('Service.SocketBindDeny'), `another port ${p.otherPort === 'bound' ? 'can' : 'cannot'} be bound, as the unit ${unit.has('Service.SocketBindDeny') ? 'claims' : 'says (it claims no port limit)'}`);
  const analyze = await sys.run(['systemd-analyze', 'security', 'nhiicc.service', '--no-pager']);
  const score = /Overall exposure level for nhiicc\.service: ([\d.]+)/.exec(analyze.stdout)?.[1];
  t.ok(score !== undefined && Number(score) <= 2.5, `systemd-analyze security on the running system: ${score} (≤ 2.5)`);
}

/**
 * Debian 13's pcscd asks polkit. Without the package's rule the service is
 * refused: 7001 to pages, one log line saying why and how to fix it, retries
 * that back off; with the rule back it recovers by itself.
 */
async function polkitBothWays(t: Test, sys: BootedSystem, agent: NetnsAgent, ca: string): Promise<void> {
  const sh = async (script: string) => (await sys.sh(script)).stdout.trim();
  const aside = '/root/polkit-rule.aside';
  await sh(`mv ${POLKIT_RULE} ${aside}`);
  // polkitd reloads its rules when the folder changes; give it a moment.
  await sleep(1000);
  const since = await sh(`date +%s.%N; ${answersWithin('systemctl restart nhiicc')} >/dev/null`);
  const pid = await sh('systemctl show -p MainPID --value nhiicc');
  t.same(await agent.ask(['GetBasic'], ca), ['7001'], 'without the rule: GetBasic answers 7001');
  // pcscd logs each refusal; the service's first try is the start of the window.
  const refusalsSince = async () =>
    (await sh(`journalctl -u pcscd --since @${since} -o short-unix --no-pager | grep "Process ${pid} .*NOT authorized" || true`))
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.split(' ')[0]));
  let first: number | undefined;
  for (let i = 0; i < 40 && first === undefined; i++) {
    first = (await refusalsSince())[0];
    if (first === undefined) await sleep(250);
  }
  if (first === undefined) throw new Error('pcscd never refused the service');
  const windowS = 12;
  await sleep(Math.max(0, first * 1000 + windowS * 1000 - Number(await sh('date +%s%3N'))));
  const refusals = (await refusalsSince()).map((at) => at - first!).filter((s) => s <= windowS);
  t.comment(`pcscd refused the service ${refusals.length} times in the ${windowS} s after its first try, at ${refusals.map((s) => s.toFixed(1)).join(', ')} s`);
  t.ok(refusals.length <= 7, `the service backs off: ${refusals.length} tries in ${windowS} s (≤ 7: retries after 1, 2, 4, 5 s, and one for the page)`);
  const late = refusals.filter((s) => s >= 4);
  t.ok(late.length <= 3, `at most one try every few seconds once backed off: ${late.length} tries from 4 s to ${windowS} s`);
  // Not the request log: each page's 7001 is logged with its reason, as every request is.
  const serviceLog = (await sh(`journalctl -u nhiicc --since @${since} -o cat --no-pager`)).split('\n').filter((l) => !l.includes('"reqId"'));
  const said = serviceLog.filter((l) => /0x8010006a|polkit|SECURITY_VIOLATION/i.test(l));
  t.equal(said.length, 1, 'the service says once what is wrong', { said });
  t.match(said[0] ?? '', /polkit/i, 'and names polkit, the fix');

  const doctor = await sys.run(['nhiicc', 'doctor', '--json']);
  const pcsc = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; summary: string; fix?: string }> }).checks.find((c) => c.id === 'pcsc-service');
  t.match(pcsc, { summary: /^pcscd refuses user nhiicc \(0x8010006A, SCARD_W_SECURITY_VIOLATION\).*\(as the service's user nhiicc\)$/, fix: /polkit rule/ }, "doctor as root: the service's user is refused, with the polkit fix");

  const back = await sh(`mv ${aside} ${POLKIT_RULE}; date +%s.%N`);
  let recoveredS: number | undefined;
  for (let i = 0; i < 60 && recoveredS === undefined; i++) {
    await sleep(250);
    // Asking nothing: the service must come back by itself; it lists the readers when it does.
    const added = await sh(`journalctl -u nhiicc --since @${back} -o short-unix --no-pager | grep -m1 "reader added" || true`);
    if (added) recoveredS = Number(added.split(' ')[0]) - Number(back);
  }
  t.ok(recoveredS !== undefined && recoveredS <= 10, `recovers by itself ${recoveredS?.toFixed(1) ?? 'never'} s after the rule is back (≤ 10)`);
  t.same(await agent.ask(['GetBasic'], ca), [`GetBasic:${expectedBasic(chen)}`], 'with the rule back: GetBasic returns the card');
}
