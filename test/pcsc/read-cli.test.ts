import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startTestBed } from '../bed/testbed.js';
import { BUNDLE_DIR, CLI, NODE, PROGRAM, runCli, runCliWithoutPcscLibrary, withoutPcscLibrary } from '../helpers/cli.js';
import { ask, openSocket } from '../helpers/served.js';
import { loadProfile } from '../helpers/profiles.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());
t.comment(`testing ${PROGRAM}`);

const chen = loadProfile('chen');
const hkscs = loadProfile('hkscs');

t.test('read --json returns exactly the card profile', async (t) => {
  const card = bed.card(hkscs);
  await card.insert();
  t.teardown(() => card.remove());
  const r = await runCli(['read', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), {
    reader: bed.readerName(0),
    card_no: hkscs.cardNo,
    name: '林喆𡃁',
    id_no: hkscs.idNo,
    birth_date: '2010-12-31',
    sex: 'F',
    issue_date: '2023-07-04',
    birth_date_roc: '0991231',
    issue_date_roc: '1120704',
    mark: 'A',
  });
  t.equal(r.stdout.trim().split('\n').length, 1, 'one JSON object, one line');

  const table = await runCli(['read']);
  t.equal(table.code, 0);
  t.match(table.stdout, /姓名 Name\s+林喆𡃁/);
  t.match(table.stdout, /出生日期 Birth date\s+2010-12-31 \(民國 0991231\)/);
});

t.test('no card: exit 1, one line with 8013, no stack trace', async (t) => {
  const r = await runCli(['read', '--json']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^nhiicc: error 8013: .+\n$/);
  t.equal(r.stderr.split('\n').length, 2);
});

t.test('a card that is not an NHI card: 7004', async (t) => {
  const card = bed.card(chen, { notNhi: true });
  await card.insert();
  t.teardown(() => card.remove());
  const r = await runCli(['read', '--json']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^nhiicc: error 7004: /);
});

t.test('two readers, the card in the second: it is found there; --reader pins one', async (t) => {
  const card = bed.card(chen, { slot: 1 });
  await card.insert();
  t.teardown(() => card.remove());
  const r = await runCli(['read', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).reader, bed.readerName(1));
  t.equal(JSON.parse(r.stdout).name, '陳大明');

  const pinnedEmpty = await runCli(['read', '--json', '--reader', bed.readerName(0)]);
  t.equal(pinnedEmpty.code, 1);
  t.match(pinnedEmpty.stderr, /error 8013/);

  const unknown = await runCli(['read', '--reader', 'No Such Reader']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /error 8013: reader "No Such Reader" not found/);
});

t.test('an NHI card beside a non-NHI card: the NHI one is used', async (t) => {
  const other = bed.card(hkscs, { notNhi: true, slot: 0 });
  const nhi = bed.card(chen, { slot: 1 });
  await other.insert();
  await nhi.insert();
  t.teardown(async () => {
    await other.remove();
    await nhi.remove();
  });
  const r = await runCli(['read', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).card_no, chen.cardNo);
});

t.test('no reader at all: 8013', async (t) => {
  await bed.restartPcscd({ noReaders: true });
  t.teardown(() => bed.restartPcscd());
  const r = await runCli(['read', '--json']);
  t.equal(r.code, 1);
  t.match(r.stderr, /error 8013: no card reader found/);
});

t.test('no PC/SC service: 7001 with what to install', async (t) => {
  await bed.stopPcscd();
  t.teardown(() => bed.startPcscd());
  const r = await runCli(['read']);
  t.equal(r.code, 1);
  t.match(r.stderr, /error 7001: .*pcscd/);
});

t.test('no PC/SC library: read answers 7001 and says what to install', async (t) => {
  const r = await runCliWithoutPcscLibrary(['read']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^nhiicc: error 7001: .*libpcsclite\.so\.1 could not be loaded.*apt install pcscd libpcsclite1/);
  t.equal(r.stderr.split('\n').length, 2, 'one line, no stack trace');
});

t.test('no PC/SC library: doctor says the same as a failed check', async (t) => {
  const r = await runCliWithoutPcscLibrary(['doctor', '--json']);
  const check = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'pcsc-service');
  t.match(check, { state: 'fail', summary: /libpcsclite\.so\.1 could not be loaded/ });
});

t.test('no PC/SC library: the service still starts, logs once why, and pages get 7001', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-nolib-'));
  const [cmd, args] = withoutPcscLibrary(NODE, [CLI, 'serve', '--port', '0', '--config-dir', dir]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  for (let i = 0; i < 100 && !/nhiicc listening/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const port = Number(/"127\.0\.0\.1:(\d+)"/.exec(out)?.[1]);
  const ws = await openSocket(port, fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
  t.equal(await ask(ws, 'GetBasic'), '7001');
  await new Promise((r) => setTimeout(r, 2500)); // long enough for retries in the background
  const why = out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg: string; reason?: string })
    .filter((line) => /cannot read cards/.test(line.msg));
  t.equal(why.length, 1, 'the log says why once, though it keeps trying in the background');
  t.match(why[0]?.reason, /libpcsclite\.so\.1 could not be loaded/);
});

/** Environment for a child process in which these modules fail to load. */
const hiding = (modules: string) => ({
  NODE_OPTIONS: `--require ${new URL('../fixtures/hide-modules.cjs', import.meta.url).pathname}`,
  HIDE_MODULES: modules,
});

t.test('koffi cannot load: 7001 with a clear message, no crash', async (t) => {
  // The bundle loads koffi's binary from beside itself instead of the koffi package.
  const r = await runCli(['read'], hiding(BUNDLE_DIR ? './koffi.node' : 'koffi'));
  t.equal(r.code, 1);
  t.match(r.stderr, /^nhiicc: error 7001: .*koffi FFI module could not be loaded/);
});
