import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_CACHE } from '../rootfs/rootfs.js';
import { REPO } from './helpers.js';

const say = (msg: string) => process.stderr.write(`# [deb] ${msg}\n`);

/**
 * What a fresh clone holds that the package is made from: tracked and new
 * files as they are now (uncommitted changes too), but not the tests.
 */
function packagedFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  return [...new Set(listed.split('\0').filter(Boolean))].filter((f) => !f.startsWith('test/') && fs.existsSync(path.join(REPO, f))).sort();
}

function contentKey(files: string[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update('\0').update(fs.readFileSync(path.join(REPO, f))).update('\0');
  for (const v of ['NHIICC_NODE_BINARY', 'NHIICC_PCSCLITE_ADDON']) hash.update(`${v}=${process.env[v] ?? ''}\0`);
  return hash.digest('hex').slice(0, 16);
}

/** Build output a fresh clone does not have; npm ci's results (node_modules, compiled addons) it does. */
const NOT_IN_CLONE = new Set(['.git', 'dist', path.join('installers', 'build')]);

/** This checkout as a fresh clone after `npm ci` would be: hard links, so it costs no copying. */
function cloneInto(dir: string): void {
  const visit = (rel: string) => {
    for (const name of fs.readdirSync(path.join(REPO, rel))) {
      const r = path.join(rel, name);
      if (NOT_IN_CLONE.has(r)) continue;
      // installers/ holds a build folder to leave out: go in; everything else goes whole.
      if (r === 'installers') {
        fs.mkdirSync(path.join(dir, r));
        visit(r);
      } else {
        execFileSync('cp', ['-al', path.join(REPO, r), path.join(dir, r)]);
      }
    }
  };
  visit('');
}

export interface BuiltDeb {
  deb: string;
  /** How long the build took, or 0 when an earlier test built the same tree. */
  seconds: number;
  /** What `npm run package -- deb` printed. */
  output: string;
}

/**
 * The .deb as `npm run package -- deb` makes it on a fresh clone of this
 * checkout, which has no dist/ (so the command must build the app itself).
 * Kept by the content of the clone's files, so the package test and the
 * booted tests share one build of the same tree.
 */
export function builtDeb(): BuiltDeb {
  const key = contentKey(packagedFiles());
  // One folder per checkout: other checkouts on this machine keep theirs.
  const debs = path.join(TEST_CACHE, 'deb', createHash('sha256').update(REPO).digest('hex').slice(0, 8));
  const dir = path.join(debs, key);
  const done = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.deb')) : undefined;
  if (done) {
    say(`reusing the .deb of this tree (${key}): ${path.join(dir, done)}`);
    return { deb: path.join(dir, done), seconds: 0, output: fs.readFileSync(path.join(dir, 'output.txt'), 'utf8') };
  }
  fs.mkdirSync(debs, { recursive: true });
  const clone = fs.mkdtempSync(path.join(debs, `${key}.clone-`));
  const started = Date.now();
  try {
    cloneInto(clone);
    say(`npm run package -- deb in a fresh copy of this checkout (${clone}, no dist/)`);
    const env = { ...process.env };
    delete env.NHIICC_SKIP_BUILD;
    const r = spawnSync('npm', ['run', '--silent', 'package', '--', 'deb'], { cwd: clone, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    const output = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`npm run package -- deb failed (exit ${r.status}):\n${output.slice(-3000)}`);
    const built = r.stdout.trim().split('\n').pop()!;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'output.txt'), output);
    const deb = path.join(dir, path.basename(built));
    fs.renameSync(built, deb);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    say(`built ${path.basename(deb)} (${Math.round(fs.statSync(deb).size / 1e6)} MB) in ${seconds} s`);
    // This checkout's older trees are not needed again.
    for (const old of fs.readdirSync(debs)) if (!old.startsWith(key)) fs.rmSync(path.join(debs, old), { recursive: true, force: true });
    return { deb, seconds, output };
  } finally {
    fs.rmSync(clone, { recursive: true, force: true });
  }
}
