// README's first command on a fresh Debian 12 machine that has Node and npm
// and nothing else: no C compiler, no make or python, no PC/SC library, no
// pcscd, no mono. A clone of this checkout's committed tree runs
// `npm install && npm start` in a minimal Debian root filesystem; the service
// must start and say why it cannot read a card. npm install reaches the npm
// registry (as on a user's machine); the service runs without a network.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { REPO } from '../installers/helpers.js';
import { ensureRootfs, overlay } from '../rootfs/rootfs.js';

const step = (t: Test, what: string, started: number) => t.comment(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);

t.test('fresh Debian 12 with Node and npm only: npm install && npm start serves and says why it cannot read a card', { timeout: 600_000 }, async (t) => {
  let started = Date.now();
  const base = ensureRootfs({ name: 'fresh-debian12', suite: 'bookworm', include: ['ca-certificates'] });
  const o = overlay(base, 'fresh');
  const mounts: string[] = [];
  t.teardown(() => {
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    o.remove();
  });
  const root = o.root;
  const at = (p: string) => path.join(root, p);

  // The machine's Node and npm, as a user who installed them would have them.
  fs.copyFileSync(process.execPath, at('/usr/bin/node'));
  fs.chmodSync(at('/usr/bin/node'), 0o755);
  const npmDir = path.join(execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim(), 'npm');
  fs.mkdirSync(at('/usr/lib/node_modules'), { recursive: true });
  fs.cpSync(npmDir, at('/usr/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', at('/usr/bin/npm'));
  // This network's TLS and name resolution, so that the npm registry is reachable from inside.
  fs.copyFileSync('/etc/ssl/certs/ca-certificates.crt', at('/etc/ssl/certs/ca-certificates.crt'));
  fs.copyFileSync('/etc/resolv.conf', at('/etc/resolv.conf'));
  execFileSync('git', ['clone', '-q', REPO, at('/root/nhiicc')]);
  for (const d of ['/proc', '/dev', '/sys']) {
    execFileSync('mount', ['--bind', d, at(d)]);
    mounts.push(at(d));
  }
  step(t, 'prepared a clone of HEAD in a fresh root', started);

  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', npm_config_cafile: '/etc/ssl/certs/ca-certificates.crt' };
  /**
   * `script` in the fresh root, with only env (`env -i`: the test runner adds
   * its own NODE_OPTIONS to child processes); without a network it gets a
   * loopback of its own.
   */
  const command = (script: string, network: boolean): [string, string[]] => {
    const chroot = ['env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'chroot', root, 'sh', '-c', script];
    return network ? ['env', chroot.slice(1)] : ['unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...chroot]];
  };
  const inside = (script: string, opts: { network: boolean; timeout: number }) => {
    const [cmd, args] = command(script, opts.network);
    return spawnSync(cmd, args, { encoding: 'utf8', env, timeout: opts.timeout, maxBuffer: 64 * 1024 * 1024 });
  };

  const tools = inside('for c in cc gcc make python3 pkg-config pcscd mcs; do command -v $c; done; ls /usr/lib/*/libpcsclite* 2>/dev/null; true', { network: false, timeout: 10_000 });
  t.equal(tools.stdout, '', 'no compiler, build tool, PC/SC library, pcscd or mono on this machine');

  started = Date.now();
  const install = inside('cd /root/nhiicc && npm install --no-audit --no-fund', { network: true, timeout: 300_000 });
  t.equal(install.status, 0, 'npm install succeeds', { output: `${install.stdout}${install.stderr}${install.error ?? ''}`.slice(-3000) });
  step(t, 'npm install', started);

  started = Date.now();
  const [cmd, args] = command('cd /root/nhiicc && exec npm start', false);
  const service = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  service.stdout.on('data', (c) => (log += c));
  service.stderr.on('data', (c) => (log += c));
  for (let i = 0; i < 1200 && !(/nhiicc listening/.test(log) && /cannot read cards/.test(log)) && service.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(-service.pid!, 'SIGKILL');
  t.match(log, /"msg":"nhiicc listening"/, 'the service starts and listens', { log: log.slice(-3000) });
  const why = log.split('\n').find((line) => line.includes('cannot read cards until PC/SC works'));
  t.match(why, /"reason":"the PC\/SC library libpcsclite\.so\.1 could not be loaded.*apt install pcscd libpcsclite1/, 'and says why it cannot read a card, and what to install');
  step(t, 'npm start: built and serving', started);
});
