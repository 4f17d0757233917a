import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Debian root filesystems for tests that need a whole system (a booted
 * Debian for the .deb, Wine for the .msi). Each is made once with mmdebstrap
 * from the mirror apt already uses, then reused read-only; a test runs on a
 * throw-away overlay over it.
 */

export const TEST_CACHE = process.env.NHIICC_TEST_CACHE ?? '/var/cache/nhiicc-test';
const HOST_SOURCES = '/etc/apt/sources.list.d/debian.sources';

export type Suite = 'bookworm' | 'trixie';

export interface RootfsSpec {
  /** A short name for messages and the cache folder. */
  name: string;
  suite: Suite;
  variant?: 'minbase' | 'apt';
  include: string[];
  /** Shell commands run by mmdebstrap after the tree is made; `$1` is its path. */
  customize?: string[];
}

export function say(msg: string): void {
  process.stderr.write(`# [rootfs] ${msg}\n`);
}

/**
 * The host's deb822 sources with the host's suite names replaced by `suite`:
 * mmdebstrap takes the suites from a sources file, not from its argument.
 */
function sourcesFor(suite: Suite, dir: string): string {
  const text = fs.readFileSync(HOST_SOURCES, 'utf8');
  const host = /^Suites:\s*(\S+)/m.exec(text)?.[1];
  if (!host) throw new Error(`${HOST_SOURCES}: no Suites line`);
  const file = path.join(dir, `${suite}.sources`);
  fs.writeFileSync(file, text.replaceAll(host, suite));
  return file;
}

function specKey(spec: RootfsSpec): string {
  const hash = createHash('sha256').update(JSON.stringify({ ...spec, include: [...spec.include].sort() })).digest('hex');
  return `${spec.name}-${hash.slice(0, 12)}`;
}

/** The tree for spec, made now if it is not in the cache yet. Root only. */
export function ensureRootfs(spec: RootfsSpec): string {
  const dir = path.join(TEST_CACHE, 'rootfs', specKey(spec));
  if (fs.existsSync(path.join(dir, 'etc', 'os-release'))) {
    say(`reusing ${spec.name} (${dir})`);
    return dir;
  }
  if (spawnSync('sh', ['-c', 'command -v mmdebstrap'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('mmdebstrap is missing: apt-get install mmdebstrap');
  }
  // Made beside its final place and renamed: a test killed half-way leaves
  // nothing that looks finished, and two makers at once do not collide.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.making-`);
  const tree = path.join(tmp, 'tree');
  const started = Date.now();
  say(`making ${spec.name}: Debian ${spec.suite} with ${spec.include.join(' ')} (once; later runs reuse it)`);
  try {
    const args = [
      `--variant=${spec.variant ?? 'minbase'}`,
      `--include=${spec.include.join(',')}`,
      '--skip=cleanup/apt/lists',
      ...(spec.customize ?? []).map((c) => `--customize-hook=${c}`),
      spec.suite,
      tree,
      sourcesFor(spec.suite, tmp),
    ];
    const r = spawnSync('mmdebstrap', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`mmdebstrap failed (${r.status}): ${(r.stderr ?? '').split('\n').slice(-15).join('\n')}`);
    try {
      fs.renameSync(tree, dir);
    } catch (err) {
      if (!fs.existsSync(path.join(dir, 'etc', 'os-release'))) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const size = execFileSync('du', ['-sh', dir], { encoding: 'utf8' }).split('\t')[0];
  say(`made ${spec.name} in ${Math.round((Date.now() - started) / 1000)} s, ${size} (${dir})`);
  return dir;
}

export interface Overlay {
  /** The merged tree: the base, with this run's changes on top. */
  root: string;
  /** This run's changes alone (overlayfs' upper layer): what the run created or changed. */
  changes: string;
  /** Unmounts and deletes this run's changes. */
  remove(): void;
}

/**
 * A writable throw-away view of a base tree (kernel overlayfs), with
 * `layers` (from ensureLayer; topmost first) between the base and this
 * run's changes.
 */
export function overlay(base: string, name: string, layers: string[] = []): Overlay {
  const runs = path.join(TEST_CACHE, 'runs');
  fs.mkdirSync(runs, { recursive: true });
  const dir = fs.mkdtempSync(path.join(runs, `${name}-`));
  const [upper, work, root] = ['upper', 'work', 'root'].map((d) => path.join(dir, d)) as [string, string, string];
  for (const d of [upper, work, root]) fs.mkdirSync(d);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...layers, base].join(':')},upperdir=${upper},workdir=${work}`, root]);
  return {
    root,
    changes: upper,
    remove() {
      spawnSync('umount', ['-R', root]);
      if (spawnSync('mountpoint', ['-q', root]).status === 0) spawnSync('umount', ['-l', root]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A layer over base made once by `make` (which changes the tree it is given)
 * and reused by later runs as one of overlay()'s layers: what a slow setup
 * step inside the tree (a Wine prefix, say) leaves behind. Kept per base and
 * name, so a new base makes it anew; give it a new name when `make` changes.
 * Mounts: call it in a private mount namespace.
 */
export function ensureLayer(base: string, name: string, make: (root: string) => void): string {
  const dir = path.join(TEST_CACHE, 'layers', `${path.basename(base)}+${name}`);
  if (fs.existsSync(dir)) {
    say(`reusing layer ${name} (${dir})`);
    return dir;
  }
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const started = Date.now();
  const o = overlay(base, `layer-${name}`);
  try {
    make(o.root);
    execFileSync('umount', ['-R', o.root]);
    // Renamed into place whole: a run killed half-way leaves no layer behind.
    try {
      fs.renameSync(o.changes, dir);
    } catch (err) {
      if (!fs.existsSync(dir)) throw err;
    }
  } finally {
    o.remove();
  }
  const size = execFileSync('du', ['-sh', dir], { encoding: 'utf8' }).split('\t')[0];
  say(`made layer ${name} in ${Math.round((Date.now() - started) / 1000)} s, ${size} (${dir})`);
  return dir;
}
