import t from 'tap';
import { startTestBed } from '../bed/testbed.js';
import { runCli } from '../helpers/cli.js';
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
