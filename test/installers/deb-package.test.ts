// The .deb as `npm run package -- deb` builds it on a fresh clone: its
// files, control data and lintian's verdict. What it does when installed is
// deb-debian12/13.test.ts.
import t from 'tap';
import { builtDeb } from './built-deb.js';
import { have, run } from './helpers.js';

const skip = process.platform !== 'linux' ? 'not Linux' : ['dpkg-deb', 'lintian', 'git'].find((c) => !have(c));

t.test('.deb: built from a fresh clone, Debian conventions, lintian without errors', { skip: skip ? `${skip} missing` : false, timeout: 240_000 }, async (t) => {
  const { deb, seconds, output } = builtDeb();
  t.comment(seconds ? `npm run package -- deb: ${seconds} s` : 'npm run package -- deb: built earlier in this run from the same tree');
  t.match(output, /^\[package\] tsc -p tsconfig\.json --noEmit/m, 'the package command type-checks the code itself');
  t.match(output, /^\[package\] program: \d+ files, koffi [\d.]+ for linux-x64$/m, 'and bundles the program itself (the clone has no dist/)');

  const files = run('dpkg-deb', ['-c', deb])
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/).slice(5).join(' ').replace(/^\./, '').replace(/ -> .*$/, ''));
  for (const f of [
    '/usr/bin/nhiicc',
    '/usr/lib/nhiicc/bin/node',
    '/usr/lib/nhiicc/app/nhiicc.mjs',
    '/usr/lib/nhiicc/app/koffi.node',
    '/usr/lib/nhiicc/libexec/nhiicc-setup',
    '/usr/lib/systemd/system/nhiicc.service',
    '/usr/lib/systemd/system/nhiicc.socket',
    '/etc/polkit-1/rules.d/60-nhiicc-pcscd.rules',
    '/usr/share/nhiicc/html/ESample.html',
    '/usr/share/doc/nhiicc/copyright',
    '/usr/share/doc/nhiicc/changelog.gz',
  ]) {
    t.ok(files.includes(f), `has ${f}`);
  }
  t.same(files.filter((f) => /^\/(usr\/local|opt)\//.test(f)), [], 'nothing under /usr/local or /opt');
  t.same(files.filter((f) => f.includes('/node_modules/')), [], 'no node_modules: one bundled program');

  const copyright = run('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -xO ./usr/share/doc/nhiicc/copyright`]).stdout;
  t.match(copyright, /^Files: usr\/lib\/nhiicc\/app\/\*\.mjs$/m, 'the copyright file covers the bundled program');
  t.match(copyright, /^ fastify [\d.]+ \(MIT\)$/m, "with each bundled package's licence (fastify's, for one)");

  const control = run('dpkg-deb', ['-f', deb]).stdout;
  t.match(control, /^Depends: .*libc6 \(>= [\d.]+\).*libstdc\+\+6.*libpcsclite1, pcscd/m, 'Depends has the libraries the binaries link (dpkg-shlibdeps), the one koffi opens, and pcscd');
  t.equal(run('dpkg-deb', ['--ctrl-tarfile', deb]).status, 0);
  t.equal(run('sh', ['-c', `dpkg-deb --ctrl-tarfile '${deb}' | tar -xO ./conffiles`]).stdout, '/etc/polkit-1/rules.d/60-nhiicc-pcscd.rules\n', 'the polkit rule is a conffile');

  const started = Date.now();
  const lintian = run('lintian', ['--no-cfg', '--fail-on', 'error', '--show-overrides', deb]);
  const report = `${lintian.stdout}${lintian.stderr}`.split('\n').filter((l) => /^[EWINOPX]: /.test(l));
  t.comment(`lintian (${((Date.now() - started) / 1000).toFixed(1)} s):\n${report.join('\n') || '(nothing to report)'}`);
  t.same(report.filter((l) => l.startsWith('E: ')), [], 'lintian reports no errors');
  // With --show-overrides, overridden tags count for the exit status too.
  t.ok(lintian.status === 0 || (lintian.status === 2 && report.some((l) => l.startsWith('O: '))), 'lintian ran to the end', { status: lintian.status, stderr: lintian.stderr });
});
