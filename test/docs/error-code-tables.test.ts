// The NHIICC error codes exist in three places: the server's table
// (src/card/errors.ts), the spec's table (docs/protocol.md §4) and the
// ESample page's own copy (html/esample.js, a classic script that cannot
// import the server's). Pages show any code they do not know as A001, so the
// three must list the same codes; the wording may differ.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import t, { type Test } from 'tap';
import { NHI_CODES } from '../../src/card/errors.js';

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
 * The four-digit codes that src/ names outside the table itself: the codes
 * it throws or answers with (compared with too, e.g. by doctor, but only
 * codes it also sends).
 */
function codesInSource(): Set<string> {
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
  walk(path.join(REPO, 'src'));
  return found;
}

const serverCodes = Object.keys(NHI_CODES).sort();
const spec = specTable(read('docs/protocol.md'));

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
