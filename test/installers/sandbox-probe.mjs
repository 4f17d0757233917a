// Run by the booted .deb test as a copy of nhiicc.service with only its
// ExecStart changed (on the package's own node): what the unit's sandbox
// really does to the service, printed as one JSON line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

const status = Object.fromEntries(
  fs
    .readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .map((l) => l.split(':\t'))
    .filter((p) => p.length === 2)
    .map(([k, v]) => [k, v.trim()]),
);
const attempt = (f) => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err.code === 'ERR_SYSTEM_ERROR' ? err.message : err.code ?? err.message;
  }
};
const bind = (port) =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err) => resolve(err.code));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve('bound')));
  });

fs.writeFileSync('/tmp/umask-probe', '');
console.log(
  JSON.stringify({
    user: os.userInfo().username,
    noNewPrivs: status.NoNewPrivs,
    seccomp: status.Seccomp,
    capEff: status.CapEff,
    capBnd: status.CapBnd,
    writeUsr: attempt(() => fs.writeFileSync('/usr/lib/nhiicc/probe', '')),
    writeConfig: attempt(() => fs.writeFileSync('/etc/nhiicc/probe', '')),
    readKey: attempt(() => fs.readFileSync('/etc/nhiicc/server.key')),
    rootHome: attempt(() => fs.readdirSync('/root')),
    hostTmpMarker: fs.existsSync('/tmp/sandbox-probe-marker'),
    pid1: attempt(() => fs.readFileSync('/proc/1/status')),
    devices: fs.readdirSync('/dev').sort(),
    userNamespace: spawnSync('unshare', ['--user', 'true']).status,
    // Listing interfaces needs a netlink socket.
    netlink: attempt(() => os.networkInterfaces()),
    uidMap: fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')),
    fileMode: (fs.statSync('/tmp/umask-probe').mode & 0o777).toString(8),
    otherPort: await bind(7778),
  }),
);
