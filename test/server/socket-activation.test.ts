// Socket activation as systemd does it, with systemd's own tool: it listens
// on 127.0.0.1 and [::1], starts the service on the first connection and
// passes the listening sockets (LISTEN_FDS). The page that connected first
// is answered by the service it started; an idle service exits by itself.
// The whole cycle under a booted systemd is in test/installers (the .deb).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { passedSockets } from '../../src/server/listeners.js';
import { whenIdle } from '../../src/server/idle-exit.js';
import { startTestBed } from '../bed/testbed.js';
import { CLI, runCli } from '../helpers/cli.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { ask, openSocket } from '../helpers/served.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
const chen = loadProfile('chen');
const card = bed.card(chen);
await card.insert();

t.test('passed sockets: only for this process, from fd 3, and the variables are taken away', async (t) => {
  const env: NodeJS.ProcessEnv = { LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'a:b', OTHER: 'x' };
  t.same(passedSockets(env, 42), [3, 4]);
  t.same(env, { OTHER: 'x' });
  t.same(passedSockets({ LISTEN_FDS: '2', LISTEN_PID: '43' }, 42), [], "another process's sockets");
  t.same(passedSockets({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42), []);
  t.same(passedSockets({}, 42), []);
});

t.test('idle: called once no connection was open for the period, not while one is', async (t) => {
  const server = new net.Server();
  let idle = 0;
  const watch = whenIdle(server, 100, () => idle++);
  t.teardown(() => watch.stop());
  const socket = new net.Socket();
  server.emit('connection', socket);
  await new Promise((r) => setTimeout(r, 250));
  t.equal(idle, 0, 'not while a connection is open');
  socket.destroy();
  await new Promise((r) => setTimeout(r, 250));
  t.equal(idle, 1, 'once after the last one closed');
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The service's process, once systemd-socket-activate has started it (it execs the program in place). */
const runsNode = (child: ChildProcess) => fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'node';

t.test('started by its first connection, which gets its answer; exits when idle, closing the card', { timeout: 60_000 }, async (t) => {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-activated-'));
  t.teardown(() => fs.rmSync(configDir, { recursive: true, force: true }));
  execFileSync(process.execPath, [CLI, 'cert', 'init', '--config-dir', configDir]);
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  const port = await freePort();
  const child = spawn(
    'systemd-socket-activate',
    ['-l', `127.0.0.1:${port}`, '-l', `[::1]:${port}`, '-E', 'NHIICC_IDLE_EXIT=2', process.execPath, CLI, 'serve', '--config-dir', configDir, '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise((r) => setTimeout(r, 500));
  t.notOk(runsNode(child), 'nothing of nhiicc runs before the first connection: only the socket is there');

  const connected = performance.now();
  const ws = await openSocket(port, ca);
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001', 'the connection that started it is answered');
  t.comment(`first answer ${Math.round(performance.now() - connected)} ms after connecting`);
  t.equal(await ask(ws, 'GetBasic'), `GetBasic:${expectedBasic(chen)}`);
  const ws6 = await openSocket(port, ca, { ipv6: true });
  t.equal(await ask(ws6, 'GetVersion'), 'GetVersion:0001', 'served on [::1] too');
  t.match(log, /"socketActivated":true/);
  t.match(log, /"idleExitSeconds":2/);

  ws.close();
  ws6.close();
  const closed = performance.now();
  t.equal(await exited, 0, 'it exits by itself once idle');
  const after = performance.now() - closed;
  t.ok(after >= 1900 && after < 8000, `after ${Math.round(after)} ms without a connection`);
  t.match(log, /no connection for a while: stopping/);
  // The card was released: another program reads it at once (asynchronously:
  // the virtual card answers from this process).
  const r = await runCli(['read', '--json']);
  t.equal(JSON.parse(r.stdout).card_no, chen.cardNo, r.stderr);
});

t.test('started by hand it never exits for idleness unless asked to', { timeout: 30_000 }, async (t) => {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-byhand-'));
  t.teardown(() => fs.rmSync(configDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, 'serve', '--config-dir', configDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill());
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  for (let i = 0; i < 200 && !/nhiicc listening/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  t.notMatch(log, /idleExitSeconds|socketActivated/);
  const bad = spawn(process.execPath, [CLI, 'serve', '--config-dir', configDir, '--port', '0', '--idle-exit', 'soon'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  bad.stderr.on('data', (c) => (err += c));
  t.equal(await new Promise((r) => bad.once('exit', r)), 1);
  t.match(err, /not a number of seconds: soon/);
});
