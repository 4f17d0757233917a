import t from 'tap';
import iconv from 'iconv-lite';
import { parseBasicProfile, parseCardMark, rocToIso } from '../../src/card/index.js';
import { basicProfileBytes, type CardProfileJson } from '../bed/virtual-card.js';

const base: CardProfileJson = {
  cardNo: '000012345678',
  name: '陳大明',
  idNo: 'A123456789',
  birthDateRoc: '0700101',
  sex: 'M',
  issueDateRoc: '1080315',
  mark: 'Z',
};

const isPrivateUse = (s: string) => [...s].some((c) => {
  const cp = c.codePointAt(0)!;
  return (cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000;
});

t.test('real-shaped profiles decode to the right fields', async (t) => {
  const cases: Array<[string, Partial<CardProfileJson>, Record<string, string>]> = [
    ['plain Big5 name, male', {}, { name: '陳大明', sex: 'M', birthDate: '1981-01-01', issueDate: '2019-03-15' }],
    ['HKSCS characters 喆 (FB46) and 堃', { name: '林喆堃' }, { name: '林喆堃' }],
    ['a character outside the BMP (𡃁)', { name: '李𡃁', sex: 'F' }, { name: '李𡃁', sex: 'F' }],
    ['ROC year below 100', { birthDateRoc: '0991231' }, { birthDate: '2010-12-31', birthDateRoc: '0991231' }],
    ['ROC year 1 (1912)', { birthDateRoc: '0010101' }, { birthDate: '1912-01-01' }],
    ['resident-permit number', { idNo: 'AC01234567' }, { idNo: 'AC01234567' }],
    ['new resident-permit number', { idNo: 'A800000014' }, { idNo: 'A800000014' }],
  ];
  for (const [label, change, expected] of cases) {
    const p = parseBasicProfile(basicProfileBytes({ ...base, ...change }));
    t.match(p, expected, label);
    t.notOk(isPrivateUse(p.name), `${label}: no private-use code points`);
  }
});

t.test('a name that fills all 20 bytes (no NUL)', async (t) => {
  const name = '歐陽喆堃𡃁林陳王李張'; // 10 double-byte characters
  t.equal(iconv.encode(name, 'big5hkscs').length, 20);
  const bytes = basicProfileBytes({ ...base, name });
  t.equal(bytes.subarray(12, 32).indexOf(0), -1, 'no padding byte');
  t.equal(parseBasicProfile(bytes).name, name);
});

t.test("Node's TextDecoder would garble HKSCS: our decoder does not", async (t) => {
  const bytes = Buffer.from([0xfb, 0x46]);
  t.equal(new TextDecoder('big5').decode(bytes).codePointAt(0), 0xe0a3, 'TextDecoder gives private use');
  t.equal(parseBasicProfile(basicProfileBytes({ ...base, name: '喆' })).name.codePointAt(0), 0x5586);
});

t.test('trailing answer bytes beyond 57 are ignored', async (t) => {
  const bytes = Buffer.concat([basicProfileBytes(base), Buffer.from('extra')]);
  t.equal(parseBasicProfile(bytes).cardNo, base.cardNo);
});

t.test('malformed profiles are errors, never half-filled', async (t) => {
  const good = basicProfileBytes(base);
  const patch = (offset: number, text: string | Buffer) => {
    const b = Buffer.from(good);
    (typeof text === 'string' ? Buffer.from(text, 'latin1') : text).copy(b, offset);
    return b;
  };
  const cases: Array<[string, Buffer]> = [
    ['too short', good.subarray(0, 56)],
    ['card number not digits', patch(0, 'ABCDEFGHIJKL')],
    ['undecodable name', patch(12, Buffer.from([0xff, 0xff, 0x81, 0x30]))],
    ['empty name', patch(12, Buffer.alloc(20))],
    ['bad ID number', patch(32, 'a12345678x')],
    ['birth date 13th month', patch(42, '0701301')],
    ['birth date 30 February', patch(42, '0700230')],
    ['birth date not digits', patch(42, '07O0101')],
    ['sex neither M nor F', patch(49, 'X')],
    ['bad issue date', patch(50, '1089999')],
  ];
  for (const [label, bytes] of cases) {
    t.throws(() => parseBasicProfile(bytes), { name: 'CardError', step: 'READ basic profile' }, label);
  }
  t.throws(() => parseCardMark(Buffer.alloc(0)), { name: 'CardError', step: 'READ card data' });
});

t.test('error messages never carry the personal data', async (t) => {
  const b = Buffer.from(basicProfileBytes(base));
  b.write('X', 49, 'latin1');
  try {
    parseBasicProfile(b);
    t.fail('should throw');
  } catch (err) {
    const msg = (err as Error).message;
    for (const v of [base.cardNo, base.idNo, base.birthDateRoc, '陳大明']) t.notMatch(msg, v);
  }
});

t.test('ROC dates', async (t) => {
  t.equal(rocToIso('0700101'), '1981-01-01');
  t.equal(rocToIso('1130229'), '2024-02-29', 'leap day');
  t.equal(rocToIso('1120229'), undefined, 'no leap day in 2023');
  t.equal(rocToIso('700101'), undefined, 'six digits');
});
