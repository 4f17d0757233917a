import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './npm-package.js';

/** The packaging scripts' progress lines, on stderr. */
export const log = (msg: string) => process.stderr.write(`[package] ${msg}\n`);

const typeChecked = new Set<string>();

/** The type check gates every package: esbuild bundles without checking types. */
export function typeCheck(project = path.join(REPO, 'tsconfig.json')): void {
  if (typeChecked.has(project)) return;
  log(`tsc -p ${path.relative(REPO, project)} --noEmit (a package is built only from code that type-checks)`);
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', project, '--noEmit'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`tsc failed (exit ${r.status ?? r.signal}): fix the type errors above; no package was built`);
  typeChecked.add(project);
}
