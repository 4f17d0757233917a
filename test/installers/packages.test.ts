// Builds every package on this machine and checks, from the package file
// itself, what it holds for its target: node and koffi's binary built for
// that OS and CPU (and no binary for another), the pinned Node runtime, the
// bundled program with at most 20 app files and no node_modules tree. Then
// the .rpm's scriptlets and requires and the .msi's service and actions.
// The Linux x64 program is also run from the unpacked .deb, away from this
// checkout's node_modules.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildDeb } from '../../installers/deb/build.js';
import { buildPkgPayload } from '../../installers/macos/build.js';
import { assertMachine, machineType } from '../../installers/machine-type.js';
import { NODE_PINS, type Target } from '../../installers/node-runtime.js';
import { buildRpm } from '../../installers/rpm/build.js';
import { buildMsi } from '../../installers/windows/build.js';
import { have, REPO, run } from './helpers.js';

const MAX_APP_FILES = 20;
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const PROGRAM = ['nhiicc.mjs', 'main.mjs', 'main.mjs.map', 'tools.mjs', 'tools.mjs.map', 'issue.mjs', 'issue.mjs.map', 'koffi.node', 'html/ESample.html', 'html/esample.js', 'README.md', 'THIRD-PARTY-LICENSES.txt'];
/** The Windows service's control thread, in the .msi only. */
const WINDOWS_PROGRAM = ['control-worker.mjs', 'control-worker.mjs.map'];

/**
 * What a package has of the program: on Linux the page lives in
 * /usr/share/nhiicc/html, and the .deb keeps the bundled packages' licences
 * in its copyright file, where Debian keeps every licence.
 */
function programOf(pkg: Package): string[] {
  const linux = pkg.target.startsWith('linux-');
  return [...PROGRAM, ...(pkg.target.startsWith('win-') ? WINDOWS_PROGRAM : [])].filter(
    (f) => !(linux && f.startsWith('html/')) && !(pkg.name.startsWith('.deb') && f === 'THIRD-PARTY-LICENSES.txt'),
  );
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-packages-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

interface Package {
  name: string;
  target: Target;
  /** Tools this build and its unpacking need. */
  tools: string[];
  build: () => Promise<string>;
  /** Unpacks the package into dir; the payload root. */
  unpack: (file: string, dir: string) => void;
  /** Where the program and the runtime are, from the payload root. */
  app: string;
  node: string;
}

const ok = (r: { status: number; stderr: string }, what: string) => {
  if (r.status !== 0) throw new Error(`${what}: ${r.stderr}`);
};
const dpkgUnpack = (file: string, dir: string) => ok(run('dpkg-deb', ['-x', file, dir]), 'dpkg-deb -x');
const rpmUnpack = (file: string, dir: string) => ok(run('sh', ['-c', 'rpm2archive - < "$0" | tar -xzf - -C "$1"', file, dir]), 'rpm2archive');
const msiUnpack = (file: string, dir: string) => ok(run('msiextract', ['-C', dir, file]), 'msiextract');

const linux = (format: 'deb' | 'rpm', target: Target): Package => ({
  name: `.${format} ${target}`,
  target,
  tools: format === 'deb' ? ['dpkg-deb'] : ['rpmbuild', 'rpm2archive'],
  build: () => (format === 'deb' ? buildDeb(target) : buildRpm(target)),
  unpack: format === 'deb' ? dpkgUnpack : rpmUnpack,
  app: 'usr/lib/nhiicc/app',
  node: 'usr/lib/nhiicc/bin/node',
});

const PACKAGES: Package[] = [
  linux('deb', 'linux-x64'),
  linux('deb', 'linux-arm64'),
  linux('rpm', 'linux-x64'),
  linux('rpm', 'linux-arm64'),
  { name: '.msi win-x64', target: 'win-x64', tools: ['wixl', 'msiextract', 'mcs'], build: buildMsi, unpack: msiUnpack, app: 'nhiicc/app', node: 'nhiicc/node/node.exe' },
  // pkgbuild is macOS's: the payload tree it would package is what is checked here.
  {
    name: 'macOS payload darwin-x64',
    target: 'darwin-x64',
    tools: [],
    build: () => buildPkgPayload('darwin-x64'),
    unpack: (tree, dir) => fs.cpSync(tree, dir, { recursive: true, verbatimSymlinks: true }),
    app: 'usr/local/nhiicc/app',
    node: 'usr/local/nhiicc/bin/node',
  },
];

function filesUnder(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(prefix, e.name);
    return e.isDirectory() ? filesUnder(dir, rel) : [rel];
  });
}

/** Whether the file holds text, scanned in chunks so a 120 MB binary is not read at once. */
function contains(file: string, text: string): boolean {
  const needle = Buffer.from(text);
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0);
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) return false;
      const hay = Buffer.concat([carry, chunk.subarray(0, n)]);
      if (hay.includes(needle)) return true;
      carry = hay.subarray(Math.max(0, hay.length - needle.length + 1));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const built = new Map<string, string>();

for (const pkg of PACKAGES) {
  const missing = pkg.tools.filter((tool) => !have(tool));
  t.test(`${pkg.name}: built for its target, pinned runtime, bundled program`, { skip: missing.length ? `${missing.join(', ')} missing (test/run.sh installs them)` : false, timeout: 240_000 }, async (t) => {
    const started = Date.now();
    const file = await pkg.build();
    built.set(pkg.name, file);
    const root = path.join(work, pkg.name.replace(/\W+/g, '-'));
    fs.mkdirSync(root, { recursive: true });
    pkg.unpack(file, root);
    const files = filesUnder(root);
    const app = path.join(root, pkg.app);
    const node = path.join(root, pkg.node);

    t.same(machineType(node).cpus, [pkg.target.split('-')[1]], `node is ${machineType(node).format} for ${pkg.target}`);
    t.doesNotThrow(() => assertMachine(node, pkg.target));
    t.doesNotThrow(() => assertMachine(path.join(app, 'koffi.node'), pkg.target), "koffi's binary is for the target");
    const binaries = files.filter((f) => {
      try {
        machineType(path.join(root, f));
        return true;
      } catch {
        return false;
      }
    });
    for (const f of binaries) t.doesNotThrow(() => assertMachine(path.join(root, f), pkg.target), `${f} is built for ${pkg.target}`);

    const pin = NODE_PINS[pkg.target]!;
    t.ok(pin.version.startsWith('24.'), `Node ${pin.version} is the current LTS line`);
    t.ok(contains(node, `v${pin.version}`), `the runtime is Node ${pin.version}`);
    const versionFile = path.join(path.dirname(node), 'NODE-VERSION');
    if (fs.existsSync(versionFile)) t.equal(fs.readFileSync(versionFile, 'utf8').trim(), `v${pin.version}`);

    t.same(filesUnder(app).sort(), programOf(pkg).sort(), 'the bundled program: its parts, source maps, koffi.node, the check page, the licences');
    if (pkg.name.startsWith('.deb') || pkg.name.startsWith('.rpm')) {
      t.same(filesUnder(path.join(root, 'usr/share/nhiicc/html')).sort(), ['ESample.html', 'esample.js'], 'the check page in /usr/share, once');
    }
    t.notOk(files.some((f) => f.split(path.sep).includes('node_modules')), 'no node_modules tree');
    if (pkg.target.startsWith('linux-')) t.same(files.filter((f) => /^(usr\/local|opt)\//.test(f)), [], 'nothing under /usr/local or /opt');
    const runtime = files.filter((f) => path.dirname(path.join(root, f)) === path.dirname(node) && /^(node(\.exe)?|NODE-LICENSE|NODE-VERSION)$/.test(path.basename(f)));
    const appFiles = files.filter((f) => !runtime.includes(f));
    t.ok(appFiles.length <= MAX_APP_FILES, `${appFiles.length} app files ≤ ${MAX_APP_FILES} (not counting the Node runtime)`);
    const size = (list: string[]) => list.reduce((sum, f) => sum + fs.statSync(path.join(root, f)).size, 0);
    t.comment(
      `${fs.statSync(file).isDirectory() ? `${pkg.name} (the tree pkgbuild packages)` : `${path.basename(file)}: ${mb(fs.statSync(file).size)}`}; ${files.length} files installed (${mb(size(files))}): ${appFiles.length} app files (${mb(size(appFiles))}) + Node ${pin.version} (${mb(size(runtime))}); built and checked in ${Math.round((Date.now() - started) / 1000)} s`,
    );

    if (pkg.target === 'linux-x64' && process.platform === 'linux' && process.arch === 'x64') {
      // Unpacked away from the checkout: nothing can come from its node_modules.
      t.equal(run(node, ['--version']).stdout.trim(), `v${pin.version}`, 'the runtime says its version');
      const version = run(node, [path.join(app, 'nhiicc.mjs'), '--version']);
      t.equal(version.stdout.trim(), VERSION, 'the packaged runtime runs the packaged program', { stderr: version.stderr });
      const read = run(node, [path.join(app, 'nhiicc.mjs'), 'read']);
      t.notMatch(read.stderr, /koffi FFI module could not be loaded/, "koffi.node loads from beside the program", { stderr: read.stderr });
      t.notMatch(read.stderr, /libpcsclite\.so\.1 could not be loaded/, 'and opens the PC/SC library');
    }
  });
}

t.test('.rpm: scriptlets and requires', { skip: have('rpmbuild') ? false : 'rpmbuild missing' }, async (t) => {
  const rpm = built.get('.rpm linux-x64') ?? (await buildRpm('linux-x64'));
  const scripts = run('rpm', ['-qp', '--scripts', rpm]).stdout;
  t.match(scripts, /postinstall scriptlet[\s\S]*nhiicc-setup install/, '%post runs the install steps');
  t.match(scripts, /preuninstall scriptlet[\s\S]*"\$1" -eq 0[\s\S]*nhiicc-setup remove/, '%preun removes only on erase, not upgrade');
  const requires = run('rpm', ['-qpR', rpm]).stdout;
  t.match(requires, /^pcsc-lite$/m, 'Requires: pcsc-lite');
  t.match(requires, /^nss-tools$/m, 'Requires: nss-tools');
  t.notMatch(requires, /libnode|GLIBC_PRIVATE/, 'no automatic requires from the bundled binaries');
  t.equal(run('rpm', ['-qp', '--qf', '%{ARCH}', built.get('.rpm linux-arm64') ?? (await buildRpm('linux-arm64'))]).stdout, 'aarch64', 'the arm64 package says aarch64');
});

t.test('.msi: service and install steps', { skip: have('wixl') && have('msiinfo') ? false : 'wixl/msiinfo missing (apt-get install wixl msitools)' }, async (t) => {
  const msi = built.get('.msi win-x64') ?? (await buildMsi());
  const table = (name: string) =>
    run('msiinfo', ['export', msi, name])
      .stdout.split(/\r?\n/)
      .slice(3)
      .filter(Boolean)
      .map((l) => l.split('\t'));
  const files = table('File').map((r) => r[2]);
  for (const f of ['node.exe', 'nhiicc-service.exe', 'setup.mjs', 'nhiicc.mjs', 'koffi.node']) t.ok(files.includes(f), `has ${f}`);
  const [service] = table('ServiceInstall');
  t.equal(service?.[1], 'nhiicc', 'service name nhiicc');
  t.match(service?.[2] ?? '', /^nhiicc NHI card service \(replaces .*mNHIICC\)$/, 'display name says what it replaces');
  t.equal(service?.[4], '2', 'starts at boot (SERVICE_AUTO_START)');
  t.equal(service?.[8], 'NT SERVICE\\nhiicc', 'runs as its own virtual account');
  const control = table('ServiceControl')[0];
  t.equal(Number(control?.[2]) & 0x1, 0x1, 'started on install');
  t.equal(Number(control?.[2]) & 0xa0, 0xa0, 'stopped and removed on uninstall');
  const seq = new Map(table('InstallExecuteSequence').map((r) => [r[0], Number(r[2])]));
  t.ok(seq.get('InstallFiles')! < seq.get('NhiiccSetup')! && seq.get('NhiiccSetup')! < seq.get('StartServices')!, 'files, then cert/hosts, then service start');
  t.ok(seq.get('StartServices')! < seq.get('NhiiccDoctor')!, 'doctor after the service started');
  t.ok(seq.get('DeleteServices')! < seq.get('NhiiccTeardown')! && seq.get('NhiiccTeardown')! < seq.get('RemoveFiles')!, 'uninstall: service, then trust/hosts, then files');
  const actions = new Map(table('CustomAction').map((r) => [r[0], r]));
  for (const id of ['NhiiccSetup', 'NhiiccDoctor', 'NhiiccTeardown']) {
    const type = Number(actions.get(id)?.[1]);
    t.equal(type & 0x0c00, 0x0c00, `${id} is deferred and not impersonated (runs as LocalSystem)`);
    t.equal(type & 0x40, 0x40, `${id} never fails the installation`);
    t.match(actions.get(id)?.[3], /\[NHIICC_WINE_FLAG\]$/, `${id} is told when it runs under Wine`);
  }
  // Under Wine (test/wine/) the .NET service wrapper cannot run: it is left out, and setup.mjs says so.
  t.same(table('RegLocator')[0]?.slice(0, 4), ['WineHidBus', '2', 'System\\CurrentControlSet\\Services\\winebus', 'ImagePath'], 'Wine is found by its HID bus service');
  t.same(table('AppSearch')[0], ['WINE_DETECTED', 'WineHidBus']);
  t.equal(table('Component').find((r) => r[0] === 'ServiceComponent')?.[4], 'NOT WINE_DETECTED', 'the service wrapper is left out under Wine');
  t.same(table('CreateFolder')[0], ['INSTALLDIR', 'InstallDirComponent'], 'the program folder has a component of its own, so uninstall removes it then too');
  t.same(actions.get('NhiiccWineFlag')?.slice(2, 4), ['NHIICC_WINE_FLAG', '--wine']);
  t.ok(seq.get('NhiiccWineFlag')! < seq.get('InstallInitialize')!, 'the flag is set before the deferred steps are scheduled');
});
