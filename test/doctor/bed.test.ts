// nhiicc doctor through the real CLI on the real PC/SC stack: everything set
// up first (all ✓), then one fault at a time, each flipping exactly its check.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/log.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { CA_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE } from '../../src/tls/certificates.js';
import { caInfo } from '../../src/trust/trust-store.js';
import { nssNickname } from '../../src/trust/nss.js';
import { startTestBed } from '../bed/testbed.js';
import { runCli } from '../helpers/cli.js';
import { loadProfile } from '../helpers/profiles.js';
import { makeCertificate } from './helpers.js';

const exec = promisify(execFile);
const root = process.getuid?.() === 0;
const systemd = await fs.access('/run/systemd/system').then(() => true, () => false);
const haveCertutil = await exec('sh', ['-c', 'command -v certutil']).then(() => true, () => false);
const skip = process.platform !== 'linux' ? 'Linux only' : !root ? 'needs root: cert install changes the system store' : !haveCertutil ? 'needs certutil (libnss3-tools)' : false;

interface Report {
  ok: boolean;
  checks: Array<{ id: string; ok: boolean; state: string; summary: string; fix?: string; details?: Record<string, unknown> }>;
}

t.test('doctor on a fully set-up machine, then one fault at a time', { skip }, async (t) => {
  const started = Date.now();
  const bed = await startTestBed();
  t.teardown(() => bed.stop());

  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-doctor-home-'));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-doctor-cfg-'));
  const nssDir = path.join(home, '.pki', 'nssdb');
  const db = `sql:${nssDir}`;
  const hostsFile = path.join(home, 'hosts');
  const env = { HOME: home, NHIICC_CONFIG_DIR: '' };
  await fs.mkdir(nssDir, { recursive: true });
  await exec('certutil', ['-d', db, '-N', '--empty-password']);
  await fs.writeFile(hostsFile, '127.0.0.1 localhost\n127.0.0.1 iccert.nhi.gov.tw\n');

  // Registered before install so a failed install is still undone.
  t.teardown(async () => {
    const r = await runCli(['cert', 'uninstall', '--config-dir', dir], env);
    if (r.code !== 0) process.stderr.write(`# cert uninstall: ${r.stdout}${r.stderr}`);
    await fs.rm(home, { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  });
  t.equal((await runCli(['cert', 'init', '--config-dir', dir], env)).code, 0, 'cert init');
  const install = await runCli(['cert', 'install', '--config-dir', dir], env);
  t.equal(install.code, 0, `cert install: ${install.stdout}${install.stderr}`);

  let service: RunningService | undefined;
  const startOurs = async () => {
    service = await startService({ host: '127.0.0.1', port: 0, configDir: dir, logger: createLogger('silent') });
    return service.port;
  };
  const stopOurs = async () => {
    await service?.close();
    service = undefined;
  };
  t.teardown(stopOurs);
  let port = await startOurs();

  const chen = loadProfile('chen');
  const card = bed.card(chen);
  await card.insert();

  const outputs: string[] = [];
  const doctor = async (): Promise<{ code: number; report: Report }> => {
    const r = await runCli(['doctor', '--json', '--config-dir', dir, '--port', String(port), '--hosts-file', hostsFile], env);
    outputs.push(r.stdout, r.stderr);
    let report: Report;
    try {
      report = JSON.parse(r.stdout) as Report;
    } catch {
      throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
    }
    return { code: r.code, report };
  };
  const byId = (report: Report) => new Map(report.checks.map((c) => [c.id, c]));
  const nssId = `trust-nss:${nssDir}`;
  /** The checks that are not ✓; the service check's state is asserted on its own. */
  const notPassing = (report: Report) =>
    report.checks.filter((c) => c.state !== 'pass' && c.id !== 'service' && c.id !== 'browser-policy').map((c) => `${c.id}:${c.state}`);
  const assertService = (t: Test, report: Report) => {
    const s = byId(report).get('service')!;
    if (!systemd) {
      t.equal(s.state, 'info', 'no systemd: the service check informs, never fails');
      t.equal(s.ok, true);
      t.match(s.summary, /systemd is not running/);
    }
    const policy = byId(report).get('browser-policy')!;
    t.equal(policy.ok, true, 'browser policy never fails the run');
  };

  await t.test('all set up: every check ✓, exit 0', async (t) => {
    const { code, report } = await doctor();
    t.same(notPassing(report), [], JSON.stringify(report, null, 2));
    t.same(
      report.checks.map((c) => c.id),
      ['pcsc-service', 'readers', 'card', 'certificate', 'trust-system', nssId, 'hosts', 'port', 'official-component', 'service', 'browser-policy'],
      'stable ids in a fixed order, one NSS check for the one database in HOME',
    );
    assertService(t, report);
    if (!systemd) {
      t.equal(code, 0);
      t.equal(report.ok, true);
    }
    t.match(byId(report).get('port')!.summary, /nhiicc answers on port \d+ \(GetVersion:0001\)/);
    t.match(byId(report).get('card')!.summary, /NHI card in Virtual PCD 00 00 is readable/);
    for (const c of report.checks) if (c.state === 'pass') t.notOk(c.fix, `${c.id}: no fix on a ✓`);

    const text = await runCli(['doctor', '--config-dir', dir, '--port', String(port), '--hosts-file', hostsFile], env);
    outputs.push(text.stdout, text.stderr);
    t.equal(text.code, code, 'same exit code without --json');
    t.match(text.stdout, /^✓ pcsc-service +PC\/SC service reachable$/m);
    t.match(text.stdout, /^✓ port +nhiicc answers/m);
    t.match(text.stdout, /^– service /m);
  });

  await t.test('card removed: only card ✗', async (t) => {
    await card.remove();
    t.teardown(() => card.insert());
    const { code, report } = await doctor();
    t.equal(code, 1);
    t.same(notPassing(report), ['card:fail']);
    t.match(byId(report).get('card')!, { ok: false, summary: /no NHI card available \(8013/, fix: /insert your NHI card/ });
  });

  await t.test('a card that is not an NHI card: card ✗ with 7004', async (t) => {
    await card.remove();
    const other = bed.card(chen, { notNhi: true, slot: 1 });
    await other.insert();
    t.teardown(async () => {
      await other.remove();
      await card.insert();
    });
    const { report } = await doctor();
    t.same(notPassing(report), ['card:fail']);
    t.match(byId(report).get('card')!, { summary: /not an NHI card \(7004/, fix: /NHI card/ });
  });

  await t.test('pcscd stopped: pcsc-service ✗, readers and card not checkable', async (t) => {
    await bed.stopPcscd();
    t.teardown(async () => {
      await bed.startPcscd();
      await waitFor(async () => byId((await doctor()).report).get('card')!.state === 'pass', 'the card back after pcscd restarted');
    });
    const { code, report } = await doctor();
    t.equal(code, 1);
    t.same(notPassing(report), ['pcsc-service:fail', 'readers:skip', 'card:skip']);
    t.match(byId(report).get('pcsc-service')!, { ok: false, fix: /systemctl enable --now pcscd\.socket/ });
    t.match(byId(report).get('readers')!, { ok: false, summary: /^not checked: / });
    t.notOk(byId(report).get('readers')!.fix, 'the fix is on pcsc-service only');
  });

  await t.test('port held by another program: port ✗, naming it', async (t) => {
    await stopOurs();
    const sockets = new Set<net.Socket>();
    const squatter = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(port, '127.0.0.1', resolve));
    t.teardown(async () => {
      const closed = new Promise<void>((resolve) => squatter.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      port = await startOurs();
    });
    const { code, report } = await doctor();
    t.equal(code, 1);
    t.same(notPassing(report), ['port:fail']);
    const check = byId(report).get('port')!;
    t.match(check.summary, new RegExp(`port ${port} is held by node \\(pid ${process.pid}\\), not nhiicc`));
    t.match(check.fix, /stop that program/);
    t.match(check.details, { listeners: [{ name: 'node', pid: process.pid }] });
  });

  await t.test('nothing on the port: port ✗ with how to start the service', async (t) => {
    await stopOurs();
    t.teardown(async () => {
      port = await startOurs();
    });
    const { report } = await doctor();
    t.same(notPassing(report), ['port:fail']);
    t.match(byId(report).get('port')!, { summary: `nothing listens on port ${port}`, fix: /systemctl enable --now nhiicc/ });
  });

  await t.test('CA removed from the browser database: only its trust-nss check ✗', async (t) => {
    const ca = caInfo(await fs.readFile(path.join(dir, CA_FILE), 'utf8'), path.join(dir, CA_FILE));
    await exec('certutil', ['-D', '-d', db, '-n', nssNickname(ca)]);
    t.teardown(() => exec('certutil', ['-A', '-d', db, '-t', 'C,,', '-n', nssNickname(ca), '-i', ca.file]));
    const { code, report } = await doctor();
    t.equal(code, 1);
    t.same(notPassing(report), [`${nssId}:fail`]);
    t.match(byId(report).get(nssId)!.fix, new RegExp(`sudo nhiicc cert install --config-dir ${dir}`));
  });

  await t.test('hosts file without the name: only hosts ✗', async (t) => {
    const other = path.join(home, 'hosts-empty');
    await fs.writeFile(other, '127.0.0.1 localhost\n');
    const r = await runCli(['doctor', '--json', '--config-dir', dir, '--port', String(port), '--hosts-file', other], env);
    outputs.push(r.stdout, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    t.same(notPassing(report), ['hosts:fail']);
    t.match(byId(report).get('hosts')!.fix, /sudo nhiicc hosts install/);
  });

  await t.test('certificate expiring in 10 days (trusted and served): only certificate ✗, with the renew fix', async (t) => {
    const expiring = await makeCertificate({ days: 10 });
    await fs.writeFile(path.join(dir, SERVER_KEY_FILE), expiring.keyPem, { mode: 0o600 });
    await fs.writeFile(path.join(dir, SERVER_CERT_FILE), expiring.certPem);
    await fs.writeFile(path.join(dir, CA_FILE), expiring.caPem);
    // As after a renewal: move trust to the new CA and restart the service.
    const again = await runCli(['cert', 'install', '--config-dir', dir], env);
    t.equal(again.code, 0, `cert install of the new CA: ${again.stdout}${again.stderr}`);
    await stopOurs();
    port = await startOurs();
    const { code, report } = await doctor();
    t.equal(code, 1);
    t.same(notPassing(report), ['certificate:fail']);
    const check = byId(report).get('certificate')!;
    t.match(check.summary, /expires on \d{4}-\d\d-\d\d \((9|10) days left\)/);
    t.match(check.fix, new RegExp(`sudo nhiicc cert renew --config-dir ${dir}`));
  });

  t.test('no personal data from the card in any output', async (t) => {
    const all = outputs.join('\n');
    t.ok(all.length > 1000, 'outputs were collected');
    for (const [what, value] of [['name', chen.name], ['ID number', chen.idNo], ['card number', chen.cardNo], ['birth date', chen.birthDateRoc]] as const) {
      t.notOk(all.includes(value), `${what} absent`);
    }
  });

  t.comment(`doctor bed test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

async function waitFor(ok: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
