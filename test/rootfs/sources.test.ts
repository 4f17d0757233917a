// The mirror for mmdebstrap comes from the host's apt sources, in either of
// the formats a Debian machine keeps them in.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { sourcesFor } from './rootfs.js';

function machine(t: Test, files: Record<string, string>): { etc: string; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-sources-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const etc = path.join(dir, 'etc');
  for (const [name, text] of Object.entries({ 'os-release': 'ID=debian\nVERSION_CODENAME=bookworm\n', ...files })) {
    fs.mkdirSync(path.dirname(path.join(etc, name)), { recursive: true });
    fs.writeFileSync(path.join(etc, name), text);
  }
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  return { etc, out };
}

const read = (files: string[]) => files.map((f) => [path.basename(f), fs.readFileSync(f, 'utf8')]);

t.test("deb822 (Debian 13, mmdebstrap's and docker's images): Debian's stanzas, retargeted; others left out", async (t) => {
  const { etc, out } = machine(t, {
    'apt/sources.list.d/debian.sources':
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n',
    'apt/sources.list.d/nodesource.sources': 'Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n',
  });
  t.same(read(sourcesFor('trixie', out, etc)), [
    [
      'trixie.sources',
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: trixie-security\nComponents: main\n',
    ],
  ]);
});

t.test("one-line sources.list (Debian 12's installer): deb lines of this release, retargeted; deb-src, comments and others left out", async (t) => {
  const { etc, out } = machine(t, {
    'apt/sources.list':
      '# main\ndeb http://deb.debian.org/debian bookworm main non-free-firmware\ndeb-src http://deb.debian.org/debian bookworm main\ndeb [signed-by=/usr/share/keyrings/k.gpg] http://security.debian.org/debian-security bookworm-security main\ndeb http://example.org/repo stable main\n',
  });
  t.same(read(sourcesFor('trixie', out, etc)), [
    [
      'trixie.list',
      'deb http://deb.debian.org/debian trixie main non-free-firmware\ndeb [signed-by=/usr/share/keyrings/k.gpg] http://security.debian.org/debian-security trixie-security main\n',
    ],
  ]);
});

t.test('no source for this release: a clear error', async (t) => {
  const { etc, out } = machine(t, { 'apt/sources.list': 'deb http://example.org/repo stable main\n' });
  t.throws(() => sourcesFor('trixie', out, etc), /no apt source for bookworm/);
});
