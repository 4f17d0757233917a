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
 * The host's Debian sources with the host's release replaced by `suite`
 * (bookworm-security becomes trixie-security, and so on), as files for
 * mmdebstrap, which takes the suites from them, not from its argument.
 * Machines keep them in deb822 files (sources.list.d/*.sources: Debian 13,
 * images made by mmdebstrap or docker) or one-line files (sources.list:
 * Debian 12's installer); entries for other releases (third-party
 * repositories) are left out.
 */
export function sourcesFor(suite: Suite, dir: string, etc = '/etc'): string[] {
  const host = /^VERSION_CODENAME=(\S+)/m.exec(fs.readFileSync(path.join(etc, 'os-release'), 'utf8'))?.[1];
  if (!host) throw new Error(`${etc}/os-release: no VERSION_CODENAME`);
  const apt = path.join(etc, 'apt');
  const ours = (s: string) => s === host || s.startsWith(`${host}-`);
  const retarget = (text: string) => text.replace(new RegExp(`\\b${host}(?=[\\s-]|$)`, 'gm'), suite);
  const files = (ext: string) => {
    const d = path.join(apt, 'sources.list.d');
    const found = fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith(ext)).map((f) => path.join(d, f)) : [];
    return found.sort().map((f) => fs.readFileSync(f, 'utf8'));
  };
  const stanzas = files('.sources')
    .flatMap((text) => text.split(/\n\s*\n/).map((st) => st.trim()))
    .filter((st) => /^Types:.*\bdeb\b/m.test(st) && (/^Suites:\s*(.*)$/m.exec(st)?.[1] ?? '').split(/\s+/).some(ours));
  const oneLine = [path.join(apt, 'sources.list')]
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .concat(files('.list'))
    .flatMap((text) => text.split('\n'))
    // deb [options] URI suite components...
    .filter((line) => /^deb\s/.test(line) && ours(line.replace(/\[[^\]]*\]/, '').trim().split(/\s+/)[2] ?? ''));
  const out: string[] = [];
  if (stanzas.length) out.push(path.join(dir, `${suite}.sources`));
  if (oneLine.length) out.push(path.join(dir, `${suite}.list`));
  if (!out.length) throw new Error(`no apt source for ${host} under ${apt}: mmdebstrap needs the mirror apt uses`);
  if (stanzas.length) fs.writeFileSync(out[0]!, `${retarget(stanzas.join('\n\n'))}\n`);
  if (oneLine.length) fs.writeFileSync(out.at(-1)!, `${retarget(oneLine.join('\n'))}\n`);
  return out;
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
      ...sourcesFor(spec.suite, tmp),
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
