// Packaging stops when tsc reports an error: esbuild alone would bundle code
// that does not type-check.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { typeCheck } from '../../installers/type-check.js';

function project(source: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-tsc-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, types: [] }, files: ['index.ts'] }));
  fs.writeFileSync(path.join(dir, 'index.ts'), source);
  return path.join(dir, 'tsconfig.json');
}

t.test('a type error stops the package build', async (t) => {
  t.throws(() => typeCheck(project('export const n: number = "not a number";\n')), /tsc failed .*no package was built/);
});

t.test('code that type-checks goes on', async (t) => {
  t.doesNotThrow(() => typeCheck(project('export const n: number = 1;\n')));
});
