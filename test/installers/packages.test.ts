// Builds every package on this machine and checks, from the package file
// itself, what it holds for its target: node and koffi's binary built for
// that OS and CPU (and no binary for another), the pinned Node runtime, the
// bundled program with at most 20 app files and no node_modules tree. Then
// the .rpm's scriptlets and requires, and the .msi's service (node.exe
// itself), its environment, the ProgramData ACLs and the install steps.
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
import { serviceSid } from '../../installers/windows/acl.js';
import { buildMsi } from '../../installers/windows/build.js';
import { SERVICE_NODE_OPTIONS } from '../../src/server/service-node-options.js';
import { FOREIGN_NODE_ENVIRONMENT } from '../../src/windows-service/serve.js';
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
  { name: '.msi win-x64', target: 'win-x64', tools: ['wixl', 'msiextract'], build: buildMsi, unpack: msiUnpack, app: 'nhiicc/app', node: 'nhiicc/node/node.exe' },
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

t.test('.msi: the service is node.exe itself, its environment, the ProgramData ACLs, the install steps', { skip: have('wixl') && have('msiinfo') ? false : 'wixl/msiinfo missing (apt-get install wixl msitools)' }, async (t) => {
  const msi = built.get('.msi win-x64') ?? (await buildMsi());
  const table = (name: string) =>
    run('msiinfo', ['export', msi, name])
      .stdout.split(/\r?\n/)
      .slice(3)
      .filter(Boolean)
      .map((l) => l.split('\t'));
  const files = table('File');
  const fileNames = files.map((r) => r[2]);
  for (const f of ['node.exe', 'setup.mjs', 'nhiicc.mjs', 'control-worker.mjs', 'koffi.node']) t.ok(fileNames.includes(f), `has ${f}`);
  t.notOk(fileNames.some((f) => /\.(exe|dll)$/i.test(f ?? '') && f !== 'node.exe'), 'no program but node.exe: no service wrapper');

  const [service, ...more] = table('ServiceInstall');
  t.equal(more.length, 0, 'one service');
  t.equal(service?.[1], 'nhiicc', 'service name nhiicc');
  t.match(service?.[2] ?? '', /^nhiicc NHI card service \(replaces .*mNHIICC\)$/, 'display name says what it replaces');
  t.equal(service?.[3], '16', 'its own process (SERVICE_WIN32_OWN_PROCESS)');
  t.equal(service?.[4], '2', 'starts at boot (SERVICE_AUTO_START)');
  t.equal(service?.[5], String(0x8000 | 1), 'ErrorControl normal, and Vital: the installation fails if the service cannot be installed');
  t.equal(service?.[8], 'NT SERVICE\\nhiicc', 'runs as its own virtual account');
  t.equal(
    service?.[10],
    `${SERVICE_NODE_OPTIONS.join(' ')} "[AppDir]nhiicc.mjs" serve --windows-service --config-dir "[CommonAppDataFolder]nhiicc"`,
    'arguments: the service node options, then the bundled program, quoted, in service mode with the ProgramData folder (no trailing backslash before a quote)',
  );
  const component = service?.[11];
  const keyPath = table('Component').find((r) => r[0] === component)?.[5];
  t.equal(files.find((r) => r[0] === keyPath)?.[2], 'node.exe', "the service's component has node.exe as its key path: the image path is that file's path, then the arguments");
  const control = table('ServiceControl')[0];
  t.equal(control?.[1], 'nhiicc');
  t.equal(Number(control?.[2]) & 0x1, 0x1, 'started on install');
  t.equal(Number(control?.[2]) & 0xa0, 0xa0, 'stopped and removed on uninstall');
  t.equal(control?.[5], component, 'in the same component');

  const environment = table('Registry').filter((r) => r[3] === 'Environment');
  t.equal(environment.length, 1, "the service's Environment value");
  const [, root, key, , value, envComponent] = environment[0] ?? [];
  t.equal(root, '2', 'in HKLM');
  t.equal(key, 'SYSTEM\\CurrentControlSet\\Services\\nhiicc', 'under the service key');
  t.equal(envComponent, component, 'installed and removed with the service');
  const strings = (value ?? '').split('[~]').filter(Boolean);
  t.ok((value ?? '').includes('[~]'), 'a REG_MULTI_SZ value');
  t.same(
    strings.filter((s) => FOREIGN_NODE_ENVIRONMENT.some((name) => s.startsWith(`${name}=`))),
    FOREIGN_NODE_ENVIRONMENT.map((name) => `${name}=`),
    `clears ${FOREIGN_NODE_ENVIRONMENT.join(' and ')}, which the service refuses to run with`,
  );
  t.ok(strings.includes('NODE_ENV=production'), 'NODE_ENV=production, as the other service definitions');

  const directories = new Map(table('Directory').map((r) => [r[0], r]));
  t.same(directories.get('DataDir')?.slice(1, 3), ['CommonAppDataFolder', 'nhiicc'], '%ProgramData%\\nhiicc');
  t.same(directories.get('LogsDir')?.slice(1, 3), ['DataDir', 'logs'], '%ProgramData%\\nhiicc\\logs');
  const created = table('CreateFolder').map((r) => r[0]);
  for (const dir of ['INSTALLDIR', 'DataDir', 'LogsDir']) t.ok(created.includes(dir), `${dir} is created (and removed at uninstall when empty)`);
  t.equal(serviceSid('TrustedInstaller'), 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464', "serviceSid gives TrustedInstaller's well-known SID");
  const sid = serviceSid('nhiicc');
  const locks = new Map(table('MsiLockPermissionsEx').map((r) => [r[1], r]));
  for (const [dir, access] of [
    ['DataDir', '0x1200a9'],
    ['LogsDir', '0x1301bf'],
  ] as const) {
    const [, , lockTable, sddl] = locks.get(dir) ?? [];
    t.equal(lockTable, 'CreateFolder', `${dir}: an ACL on the folder`);
    t.match(sddl ?? '', /^D:P\(/, `${dir}: protected: nothing inherited from %ProgramData%, where users may create files`);
    const aces = [...(sddl ?? '').matchAll(/\(([^)]*)\)/g)].map((m) => m[1]!.split(';'));
    t.same(
      aces.map(([type, flags, rights, , , trustee]) => `${type};${flags};${rights};${trustee}`).sort(),
      [`A;OICI;FA;BA`, `A;OICI;FA;SY`, `A;OICI;${access};${sid}`].sort(),
      `${dir}: SYSTEM and Administrators full control, NT SERVICE\\nhiicc ${access === '0x1200a9' ? 'read and execute' : 'modify'}, nobody else; inherited by what is made inside`,
    );
  }

  const seq = new Map(table('InstallExecuteSequence').map((r) => [r[0], Number(r[2])]));
  t.ok(seq.get('CreateFolders')! < seq.get('NhiiccSetup')!, 'the folders and their ACLs exist before the certificate and key are written');
  t.ok(seq.get('InstallFiles')! < seq.get('NhiiccSetup')! && seq.get('NhiiccSetup')! < seq.get('StartServices')!, 'files, then cert/hosts, then service start');
  t.ok(seq.get('WriteRegistryValues')! < seq.get('StartServices')!, "the service's environment is written before it starts");
  t.ok(seq.get('StartServices')! < seq.get('NhiiccDoctor')!, 'recovery and doctor after the service started');
  t.ok(seq.get('DeleteServices')! < seq.get('NhiiccTeardown')! && seq.get('NhiiccTeardown')! < seq.get('RemoveFiles')!, 'uninstall: service, then trust/hosts, then files');
  const actions = new Map(table('CustomAction').map((r) => [r[0], r]));
  for (const id of ['NhiiccSetup', 'NhiiccDoctor', 'NhiiccTeardown']) {
    const type = Number(actions.get(id)?.[1]);
    t.equal(type & 0x0c00, 0x0c00, `${id} is deferred and not impersonated (runs as LocalSystem)`);
    t.equal(type & 0x40, 0x40, `${id} never fails the installation`);
  }
  t.same(table('AppSearch'), [], 'nothing looks for Wine: the same package installs the service everywhere');
  t.same(table('CreateFolder').find((r) => r[0] === 'INSTALLDIR'), ['INSTALLDIR', 'InstallDirComponent'], 'the program folder has a component of its own, so uninstall removes it');
});
