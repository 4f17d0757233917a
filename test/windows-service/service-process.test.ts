// `serve --windows-service` as a whole process: the built app (dist/) with
// its control thread in a real worker_thread, fake-scm.mjs in place of
// advapi32, each scenario in a process of its own (service-process.mjs).
// What Windows would see: the SetServiceStatus sequence, the exit, the log
// file, and nothing on stdout or stderr.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';

const FIXTURE = path.join(import.meta.dirname, 'service-process.mjs');
const BUILT = path.resolve(import.meta.dirname, '../../dist/windows-service/serve.js');

const NAMES: Record<number, string> = { 1: 'STOPPED', 2: 'START_PENDING', 3: 'STOP_PENDING', 4: 'RUNNING' };

interface Entry {
  t: number;
  thread: 'main' | 'control';
  status?: { currentState: number; controlsAccepted: number; win32ExitCode: number; serviceSpecificExitCode: number; checkPoint: number; waitHint: number };
  control?: number;
  answer?: number;
  sent?: number;
  blocking?: number;
  unblocked?: number;
  page?: { status: number; trusted: boolean };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When the process was gone. */
  ended: number;
  stdout: string;
  stderr: string;
  entries: Entry[];
  /** The statuses as `sc query` would show them. */
  statuses: string[];
  log: string | undefined;
  logLines: { level: number; msg: string; [k: string]: unknown }[];
}

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-winsvc-'));
t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
// One configuration folder: its certificate is made by the first run.
const configDir = path.join(base, 'config');
let runs = 0;

function run(scenario: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const dir = path.join(base, `run-${runs++}`);
  fs.mkdirSync(dir);
  const record = path.join(dir, 'record.jsonl');
  const logFile = path.join(dir, 'logs', 'nhiicc.log');
  // Through env(1): tap puts its own NODE_OPTIONS into every child's
  // environment, and this is the service's own start.
  const assignments = Object.entries({ FAKE_SCM_RECORD: record, ...env }).map(([k, v]) => `${k}=${v}`);
  const argv = ['-u', 'NODE_OPTIONS', '-u', 'NODE_PATH', ...assignments, process.execPath, FIXTURE, scenario, logFile, configDir];
  return new Promise((resolve, reject) => {
    const child = spawn('env', argv, { timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const entries = fs.existsSync(record) ? (fs.readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) as Entry[]) : [];
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : undefined;
      resolve({
        code,
        signal,
        ended: Date.now(),
        stdout,
        stderr,
        entries,
        statuses: entries.flatMap((e) =>
          e.status ? [`${NAMES[e.status.currentState]} ${e.status.win32ExitCode}/${e.status.serviceSpecificExitCode} checkpoint=${e.status.checkPoint} hint=${e.status.waitHint}`] : [],
        ),
        log,
        logLines: (log ?? '').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)),
      });
    });
  });
}

const STARTING = ['START_PENDING 0/0 checkpoint=1 hint=30000', 'START_PENDING 0/0 checkpoint=2 hint=30000'];
const RUNNING = 'RUNNING 0/0 checkpoint=0 hint=0';
const STOP_PENDING = 'STOP_PENDING 0/0 checkpoint=1 hint=10000';
const STOPPED = 'STOPPED 0/0 checkpoint=0 hint=0';
const at = (r: Run, match: (e: Entry) => boolean) => r.entries.find(match)?.t ?? NaN;
const quiet = (t: Test, r: Run) => {
  t.equal(r.stdout, '', 'nothing on stdout');
  t.equal(r.stderr, '', 'nothing on stderr');
};

t.before(() => {
  if (!fs.existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first (npm test does)`);
});

t.test('STOP: serves as `serve` does, then START_PENDING → RUNNING → STOP_PENDING → STOPPED and exit 0', async (t) => {
  const r = await run('stop');
  t.same(r.statuses, [...STARTING, RUNNING, STOP_PENDING, STOPPED]);
  t.same(r.entries.find((e) => e.page)?.page, { status: 200, trusted: true }, 'GET / answered while RUNNING');
  t.same(
    r.entries.filter((e) => e.control !== undefined).map((e) => [e.control, e.answer]),
    [[1, 0]],
    'STOP answered NO_ERROR',
  );
  t.equal(r.code, 0);
  const stopped = at(r, (e) => e.status?.currentState === 1);
  t.ok(stopped - at(r, (e) => e.sent === 1) < 1000, 'STOPPED within a second of STOP');
  t.ok(r.ended - stopped < 500, `the process ended ${r.ended - stopped} ms after STOPPED`);
  quiet(t, r);
  t.match(
    r.logLines.map((l) => l.msg),
    ['Server listening at https://127.0.0.1:', 'nhiicc listening', 'running as the Windows service', 'stopping'],
    'the log file says what happened',
  );
  t.match(r.logLines.at(-1), { control: 'stop', app: 'nhiicc' });
});

t.test('INTERROGATE: RUNNING reported again, nothing else changes', async (t) => {
  const r = await run('interrogate');
  t.same(r.statuses, [...STARTING, RUNNING, RUNNING, STOP_PENDING, STOPPED]);
  t.same(
    r.entries.filter((e) => e.control !== undefined).map((e) => [e.control, e.answer]),
    [
      [4, 0],
      [1, 0],
    ],
  );
  t.equal(r.code, 0);
  quiet(t, r);
});

t.test('SHUTDOWN stops like STOP', async (t) => {
  const r = await run('shutdown');
  t.same(r.statuses, [...STARTING, RUNNING, STOP_PENDING, STOPPED]);
  t.equal(r.code, 0);
  t.match(r.logLines.at(-1), { msg: 'stopping', control: 'shutdown' });
  quiet(t, r);
});

t.test('a main thread blocked when STOP comes: STOP_PENDING at once, STOPPED once it is free', async (t) => {
  const r = await run('blocked-stop');
  t.same(r.statuses, [...STARTING, RUNNING, STOP_PENDING, STOPPED]);
  const sent = at(r, (e) => e.sent === 1);
  const pending = at(r, (e) => e.status?.currentState === 3);
  const unblocked = at(r, (e) => e.unblocked !== undefined);
  const stopped = at(r, (e) => e.status?.currentState === 1);
  t.ok(pending - sent < 250, `STOP_PENDING ${pending - sent} ms after STOP, while the main thread was blocked for 1500 ms`);
  t.ok(unblocked - sent >= 1500, 'the main thread was blocked');
  t.ok(stopped >= unblocked, 'STOPPED after the main thread closed the server');
  t.equal(r.code, 0);
  quiet(t, r);
});

t.test('a main thread that stays blocked past the stop deadline: STOPPED with code 4, the process ended', async (t) => {
  const r = await run('blocked-forever');
  t.same(r.statuses, [...STARTING, RUNNING, 'STOP_PENDING 0/0 checkpoint=1 hint=1000', 'STOPPED 1066/4 checkpoint=0 hint=0'], 'ERROR_SERVICE_SPECIFIC_ERROR, 4: did not stop in time');
  const waited = at(r, (e) => e.status?.currentState === 1) - at(r, (e) => e.sent === 1);
  t.ok(waited >= 950 && waited < 2500, `STOPPED after the 1000 ms deadline (${waited} ms)`);
  t.equal(r.signal, 'SIGKILL', 'the control thread ended the process (TerminateProcess on Windows)');
  t.notOk(
    r.entries.some((e) => e.unblocked !== undefined),
    'before the main thread was free again',
  );
  t.match(r.logLines.at(-1), { level: 60, msg: /serving did not stop in time \(no progress for 1000 ms\)/ }, 'the reason is in the log');
  quiet(t, r);
});

t.test('a start that fails: STOPPED with code 1 and the reason in the log', async (t) => {
  const r = await run('bad-host');
  t.same(r.statuses, [...STARTING, 'STOPPED 1066/1 checkpoint=0 hint=0']);
  t.equal(r.code, 1);
  t.match(r.logLines.at(-1), { level: 60, msg: /could not start: refusing to listen on 0\.0\.0\.0/ });
  quiet(t, r);
});

t.test('an uncaught error while serving: logged, STOPPED with code 5', async (t) => {
  const r = await run('crash');
  t.same(r.statuses, [...STARTING, RUNNING, 'STOPPED 1066/5 checkpoint=0 hint=0']);
  t.equal(r.code, 5);
  t.match(r.logLines.at(-1), { level: 60, msg: 'uncaught error: the service stops', err: { message: 'deliberate' } });
  quiet(t, r);
});

t.test('NODE_OPTIONS or NODE_PATH in the environment: refused, STOPPED with code 2', async (t) => {
  for (const [name, value] of [
    ['NODE_OPTIONS', '--max-old-space-size=200'],
    ['NODE_PATH', '/somewhere/else'],
  ] as const) {
    const r = await run('stop', { [name]: value });
    t.same(r.statuses, [...STARTING, 'STOPPED 1066/2 checkpoint=0 hint=0'], name);
    t.equal(r.code, 2);
    t.match(r.logLines.at(-1), { level: 60, [name]: value, msg: new RegExp(`refusing to serve: the service's environment sets ${name}`) });
    t.notOk(r.entries.some((e) => e.page), 'never served');
    quiet(t, r);
  }
});

t.test('started by hand (error 1063): says so on stderr, exit 1, no status, no log file', async (t) => {
  const r = await run('stop', { FAKE_SCM_BY_HAND: '1' });
  t.equal(r.code, 1);
  t.match(r.stderr, /^nhiicc: serve --windows-service is run by the Windows service control manager only; this process was started by hand \(error 1063\)\. Start the service with `sc\.exe start nhiicc`, or serve in this console with `nhiicc serve`\n$/);
  t.same(r.statuses, []);
  t.equal(r.log, undefined);
});

t.test('a control thread that cannot start: the reason on stderr and in the log, exit 1', async (t) => {
  const r = await run('stop', { FAKE_SCM_BROKEN: '1' });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'nhiicc: advapi32.dll could not be loaded (as a test)\n', 'for a person who ran it by hand');
  t.match(r.logLines, [{ level: 60, msg: 'the service could not start: advapi32.dll could not be loaded (as a test)' }], 'for the service control manager, which shows no stderr');
  t.same(r.statuses, []);
});

t.test('the CLI on another OS: --windows-service says it is for Windows', async (t) => {
  const r = await runCli(['serve', '--windows-service']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^nhiicc: serve --windows-service runs only on Windows \(this is linux\); use `nhiicc serve`\n$/);
});
