// What Debian asks of a binary package beyond its files: stripped binaries,
// library dependencies, a copyright file and changelog, no development
// leftovers. `lintian` checks all of it (test/installers/deb-package.test.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { LICENSES } from '../bundle.js';
import type { AppInfo } from '../stage.js';

export const MAINTAINER = 'nhiicc developers <nhiicc@users.noreply.github.com>';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

function startsWith(file: string, magic: Buffer): boolean {
  const head = Buffer.alloc(magic.length);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, magic.length, 0);
  fs.closeSync(fd);
  return head.equals(magic);
}

/** Every regular ELF file under dir. */
function elfFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && startsWith(path.join(e.parentPath, e.name), ELF_MAGIC))
    .map((e) => path.join(e.parentPath, e.name));
}

/**
 * Modules may carry builds for musl (Alpine) beside glibc's; they never load
 * on Debian, whose libc is glibc, and nothing could satisfy their dependencies.
 */
function dropMuslBinaries(files: string[]): string[] {
  return files.filter((file) => {
    const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
    if (!/\(NEEDED\)\s+Shared library: \[libc\.musl-/.test(dynamic)) return true;
    fs.rmSync(file);
    return false;
  });
}

/**
 * Strips symbols and notes the way dh_strip does. Node's exported symbols
 * (what addons link against) are dynamic symbols, which strip keeps.
 * Returns the binaries left.
 */
export function stripBinaries(dir: string): string[] {
  const files = dropMuslBinaries(elfFiles(dir));
  for (const file of files) {
    const shared = /\.(node|so)(\.\d+)*$/.test(file);
    execFileSync('strip', ['--remove-section=.comment', '--remove-section=.note', ...(shared ? ['--strip-unneeded'] : []), file]);
  }
  return files;
}

/** The packages those binaries need, with versions, as dpkg-shlibdeps finds them. */
export function libraryDepends(binaries: string[]): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-shlibdeps-'));
  try {
    // dpkg-shlibdeps reads the package list of a source tree: give it a minimal one.
    fs.mkdirSync(path.join(work, 'debian'));
    fs.writeFileSync(path.join(work, 'debian', 'control'), 'Source: nhiicc\n\nPackage: nhiicc\nArchitecture: any\n');
    const out = execFileSync('dpkg-shlibdeps', ['-O', ...binaries.map((b) => `-e${b}`)], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const depends = /^shlibs:Depends=(.*)$/m.exec(out)?.[1];
    if (!depends) throw new Error(`dpkg-shlibdeps gave no dependencies: ${out}`);
    return depends;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const MIT = `Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:
.
The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.`;

/**
 * A machine-readable copyright file: nhiicc, the Node runtime (whose own
 * LICENSE lists what it bundles) and the npm packages bundled into the
 * program, whose licences ship beside it (installers/bundle.ts).
 */
function copyright(info: AppInfo, prefix: string, root: string, year: number): string {
  const para = (fields: [string, string][]) => fields.map(([k, v]) => `${k}: ${v}`).join('\n');
  const paragraphs = [
    para([['Format', 'https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/'], ['Upstream-Name', info.name]]),
    para([['Files', '*'], ['Copyright', `${year} nhiicc developers`], ['License', info.license]]),
  ];
  const rel = (p: string) => path.posix.join(prefix.slice(1), p);
  if (fs.existsSync(path.join(root, prefix, 'bin', 'NODE-LICENSE'))) {
    paragraphs.push(
      para([
        ['Files', rel('bin/*')],
        ['Copyright', `Node.js contributors and the authors of the libraries it includes (see /${rel('bin/NODE-LICENSE')})`],
        ['License', 'MIT and others\n The licences of Node.js and of each library it includes are in its LICENSE file.'],
      ]),
    );
  }
  // The licences of the npm packages bundled into the program go here, where
  // Debian keeps every licence of a package, instead of beside the program.
  const bundled = path.join(root, prefix, 'app', LICENSES);
  if (fs.existsSync(bundled)) {
    const text = fs.readFileSync(bundled, 'utf8');
    fs.rmSync(bundled);
    paragraphs.push(
      para([
        ['Files', rel('app/*.mjs')],
        ['Copyright', 'the authors of the npm packages bundled into the program, named below'],
        ['License', 'MIT and others'],
        ['Comment', asField(text).slice(1)],
      ]),
    );
  }
  paragraphs.push(`License: MIT\n${MIT.split('\n').map((l) => ` ${l}`).join('\n')}`);
  return `${paragraphs.join('\n\n')}\n`;
}

/** Text as the continuation lines of a deb822 field: each line indented, empty lines as " .". */
function asField(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l}`))
    .join('\n');
}

/** A native package's changelog: one entry for the version being built. */
function changelog(info: AppInfo, date: Date): string {
  return [
    `${info.name} (${info.version}) unstable; urgency=medium`,
    '',
    `  * nhiicc ${info.version}.`,
    '',
    ` -- ${MAINTAINER}  ${date.toUTCString().replace('GMT', '+0000')}`,
    '',
  ].join('\n');
}

/**
 * lintian's reports that do not apply to a package carrying its own Node
 * runtime; each with why.
 */
function lintianOverrides(info: AppInfo, prefix: string): string {
  const p = prefix.slice(1);
  return [
    '# The pinned official Node.js build links its libraries in; it is one file,',
    '# replaced as a whole with each nhiicc release.',
    `${info.name}: embedded-library * [${p}/bin/node]`,
    '',
  ].join('\n');
}

/** Adds /usr/share/doc/<name>/{copyright,changelog.gz} and the lintian overrides under root. */
export function addDocs(info: AppInfo, prefix: string, root: string, date: Date): void {
  const doc = path.join(root, 'usr', 'share', 'doc', info.name);
  fs.mkdirSync(doc, { recursive: true });
  fs.writeFileSync(path.join(doc, 'copyright'), copyright(info, prefix, root, date.getUTCFullYear()));
  fs.writeFileSync(path.join(doc, 'changelog.gz'), zlib.gzipSync(changelog(info, date), { level: 9 }));
  const overrides = path.join(root, 'usr', 'share', 'lintian', 'overrides');
  fs.mkdirSync(overrides, { recursive: true });
  fs.writeFileSync(path.join(overrides, info.name), lintianOverrides(info, prefix));
}
