import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startTestBed } from '../bed/testbed.js';
import { CLI, runCli } from '../helpers/cli.js';
import { ask, openSocket } from '../helpers/served.js';
import { loadProfile } from '../helpers/profiles.js';

const bed = await startTestBed();
t.teardown(() => bed.stop());

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

/** Environment for a child process in which these modules fail to load. */
const hiding = (modules: string) => ({
  NODE_OPTIONS: `--require ${new URL('../fixtures/hide-modules.cjs', import.meta.url).pathname}`,
  HIDE_MODULES: modules,
});

t.test('card-connection addon missing: read still works, through pcsclite alone', async (t) => {
  const card = bed.card(chen);
  await card.insert();
  t.teardown(() => card.remove());
  const r = await runCli(['read', '--json'], hiding('nhiicc-pcsc-card'));
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).id_no, chen.idNo);
  t.same(card.log.slice(-3), ['A404', 'CA11', 'CA24']);
  const doctor = await runCli(['doctor', '--json'], hiding('nhiicc-pcsc-card'));
  const check = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'card-transactions');
  t.match(check, { state: 'info', summary: /without PC\/SC transactions/ }, 'the addon really was hidden, and doctor says so');
});

t.test('pcsclite addon missing: the CLI still runs and answers 7001 with what to install', async (t) => {
  const r = await runCli(['read'], hiding('pcsclite'));
  t.equal(r.code, 1);
  t.match(r.stderr, /^nhiicc: error 7001: .*pcsclite native addon could not be loaded.*libpcsclite/);
});

t.test('pcsclite addon missing: the service still starts and pages get 7001', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-noaddon-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--config-dir', dir], {
    env: { ...process.env, ...hiding('pcsclite') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  for (let i = 0; i < 100 && !/nhiicc listening/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /pcsclite native addon could not be loaded/, 'the log says why cards cannot be read');
  const port = Number(/"127\.0\.0\.1:(\d+)"/.exec(out)?.[1]);
  const ws = await openSocket(port, fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001');
  t.equal(await ask(ws, 'GetBasic'), '7001');
});
