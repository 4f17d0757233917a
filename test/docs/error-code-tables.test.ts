// The NHIICC error codes exist in three places: the server's table
// (src/protocol/error-codes.ts), the spec's table (docs/protocol.md §4) and
// the ESample page's own copy (html/esample.js, a classic script that cannot
// import the server's). Pages show any code they do not know as A001, so the
// three must list the same codes; the wording may differ. The codes are given
// in one place, the protocol layer's tables, which must say what the spec's
// §3.1, §3.6 and §6 say.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import t, { type Test } from 'tap';
import { CARD_STEP_CODES, NHI_CODES, NO_CARD_CODES, PCSC_UNAVAILABLE_CODE, SAM_STEP_CODES } from '../../src/protocol/error-codes.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(REPO, file), 'utf8');

/** `code → last column` of the table in docs/protocol.md §4. */
function specTable(markdown: string): Map<string, string> {
  const section = /^## 4\. Error codes\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1];
  if (section === undefined) throw new Error('docs/protocol.md has no "## 4. Error codes" section');
  const rows = new Map<string, string>();
  for (const [, code, sends] of section.matchAll(/^\|\s*(\d{4})\s*\|[^|\n]*\|([^|\n]*)\|\s*$/gm)) {
    if (rows.has(code!)) throw new Error(`docs/protocol.md §4 lists ${code} twice`);
    rows.set(code!, sends!.trim());
  }
  return rows;
}

/** The codes of the page's `var CODES = {…};`, evaluated as the browser would. */
function pageCodes(script: string): string[] {
  const literal = /^\s*var CODES = (\{[\s\S]*?^\s*\});/m.exec(script)?.[1];
  if (literal === undefined) throw new Error('html/esample.js has no `var CODES = {…};`');
  return Object.keys(vm.runInNewContext(`(${literal})`) as object);
}

/**
 * The four-digit codes that the source under `dir` names outside the table
 * itself: the codes it throws or answers with.
 */
function codesInSource(dir = 'src'): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts')) {
        const text = fs.readFileSync(file, 'utf8').replace(/export const NHI_CODES = \{[\s\S]*?\} as const;/, '');
        for (const [, , code] of text.matchAll(/(['"`])([4-9]\d{3})\1/g)) found.add(code!);
      }
    }
  };
  walk(path.join(REPO, dir));
  return found;
}

/** A `## n.` or `### n.m` section of the spec, its subsections included. */
function section(markdown: string, heading: string): string {
  const start = markdown.search(new RegExp(`^${heading.replace('.', '\\.')} `, 'm'));
  if (start < 0) throw new Error(`docs/protocol.md has no "${heading}" heading`);
  const rest = markdown.slice(start + heading.length);
  const level = heading.split(' ')[0]!.length;
  const end = rest.search(new RegExp(`^#{2,${level}} `, 'm'));
  return end < 0 ? rest : rest.slice(0, end);
}

/** `code (\`name\`…)` pairs in `text`: the names the source gives its failures, with their codes. */
function namedCodes(text: string): Array<[string, string]> {
  return [...text.matchAll(/(\d{4})\s+\(`([^`]+)`/g)].map(([, code, name]) => [name!, code!]);
}

/** Each pair once, in order, as text. */
const sorted = (pairs: Iterable<[string, string]>) => [...new Set([...pairs].map(([name, code]) => `${name} → ${code}`))].sort();

const serverCodes = Object.keys(NHI_CODES).sort();
const markdown = read('docs/protocol.md');
const spec = specTable(markdown);

/** Fails naming the codes `actual` lacks of `expected` and those it has beyond them. */
function compare(t: Test, where: string, actual: Iterable<string>, expected: Iterable<string>): void {
  const have = new Set(actual);
  const want = new Set(expected);
  const missing = [...want].filter((c) => !have.has(c)).sort();
  const extra = [...have].filter((c) => !want.has(c)).sort();
  t.same({ missing, extra }, { missing: [], extra: [] }, `${where}: missing ${missing.join(', ') || 'none'}; unexpected ${extra.join(', ') || 'none'}`);
}

t.test('docs/protocol.md §4 lists exactly the codes of NHI_CODES', async (t) => {
  compare(t, 'docs/protocol.md §4', spec.keys(), serverCodes);
});

t.test('the ESample page lists exactly the codes of NHI_CODES', async (t) => {
  compare(t, 'html/esample.js CODES', pageCodes(read('html/esample.js')), serverCodes);
});

t.test('every code the source sends is in NHI_CODES, hence in both tables', async (t) => {
  const unknown = [...codesInSource()].filter((c) => !Object.hasOwn(NHI_CODES, c)).sort();
  t.same(unknown, [], `codes in src/ outside NHI_CODES: ${unknown.join(', ') || 'none'}`);
});

t.test('docs/protocol.md §4 says "never" for exactly the codes the source never sends', async (t) => {
  const sent = codesInSource();
  const never = [...spec].filter(([, sends]) => sends === 'never').map(([code]) => code);
  compare(t, 'codes marked "never" in docs/protocol.md §4', never, serverCodes.filter((c) => !sent.has(c)));
});

t.test('no layer below the protocol names an NHIICC code: they are given in src/protocol/ only', async (t) => {
  const outside = fs.readdirSync(path.join(REPO, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'protocol');
  for (const dir of outside) t.same([...codesInSource(`src/${dir.name}`)], [], `src/${dir.name}/`);
});

t.test("the card steps' codes are those of docs/protocol.md §3.1", async (t) => {
  const rows = new Map<string, string>();
  for (const [, step, code] of section(markdown, '### 3.1').matchAll(/^\|\s*([^|\n]+?)\s*\|.*\|\s*(\d{4})\s*\|\s*$/gm)) rows.set(step!, code!);
  t.same(sorted(Object.entries(CARD_STEP_CODES)), sorted([...rows].filter(([step]) => Object.hasOwn(CARD_STEP_CODES, step))));
  t.same(Object.keys(CARD_STEP_CODES).filter((step) => !rows.has(step)), [], 'every card step is a row of §3.1');
  t.equal(rows.get('SELECT NHI applet'), NO_CARD_CODES['not-accepted'], 'a card that refuses SELECT is not the wanted one');
});

t.test('why no card could be used, and PC/SC unavailable: the codes of docs/protocol.md §3.6', async (t) => {
  const text = section(markdown, '### 3.6');
  t.same(sorted(Object.entries(NO_CARD_CODES)), sorted(namedCodes(text)));
  t.match(text, new RegExp(`^\\| PC/SC unavailable [^\\n]*\\| ${PCSC_UNAVAILABLE_CODE} \\|$`, 'm'));
});

t.test("the SAM steps' codes are those of docs/protocol.md §2.6 and §6", async (t) => {
  t.same(sorted(Object.entries(SAM_STEP_CODES)), sorted([...namedCodes(section(markdown, '## 6.')), ...namedCodes(section(markdown, '### 2.6'))]));
});
