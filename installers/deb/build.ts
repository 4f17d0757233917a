// Builds dist/installers/nhiicc_<version>_<arch>.deb with dpkg-deb.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NHI_HOST, NHI_PORT } from '../../src/config/names.js';
import { POLKIT_RULE } from '../../src/config/paths.js';
import { linuxTree, PREFIX } from '../linux/layout.js';
import { INSTALLERS_DIR, type Target } from '../node-runtime.js';
import { appInfo, BUILD_DIR, defaultTarget, log, OUT_DIR, REPO, stage } from '../stage.js';
import { addDocs, libraryDepends, MAINTAINER, stripBinaries } from './conventions.js';

const DEB_ARCH: Partial<Record<Target, string>> = { 'linux-x64': 'amd64', 'linux-arm64': 'arm64' };

/**
 * What dpkg-shlibdeps finds for the same Node and koffi built for x64. The
 * Debian tools read only this machine's architecture, so a .deb for another
 * is neither stripped nor scanned, and names these.
 */
const FOREIGN_LIBRARY_DEPENDS = 'libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 12)';

/** The last commit's date (the changelog's), or now outside a git checkout. */
function releaseDate(): Date {
  try {
    return new Date(Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) * 1000);
  } catch {
    return new Date();
  }
}

/** The .deb for target (linux-x64 or linux-arm64), built on any Linux machine: nothing in it is compiled here. */
export async function buildDeb(target: Target = defaultTarget('linux')): Promise<string> {
  const arch = DEB_ARCH[target];
  if (!arch) throw new Error(`no .deb for ${target}: linux-x64 or linux-arm64`);
  const info = appInfo();
  const staged = await stage('deb', target);
  const root = path.join(BUILD_DIR, `deb-${target}`, 'root');
  linuxTree(staged, root);
  const native = target === defaultTarget('linux');
  if (!native) log(`${target} is not this machine's architecture: its binaries are shipped unstripped, with the library Depends of the x64 build`);
  const libraries = native ? libraryDepends(stripBinaries(path.join(root, PREFIX))) : FOREIGN_LIBRARY_DEPENDS;
  addDocs(info, PREFIX, root, releaseDate());

  const debian = path.join(root, 'DEBIAN');
  fs.mkdirSync(debian);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    fs.copyFileSync(path.join(INSTALLERS_DIR, 'deb', script), path.join(debian, script));
    fs.chmodSync(path.join(debian, script), 0o755);
  }
  fs.writeFileSync(path.join(debian, 'conffiles'), `${POLKIT_RULE}\n`);
  const installedKb = Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', root], { encoding: 'utf8' }).split('\t')[0]);
  fs.writeFileSync(
    path.join(debian, 'control'),
    [
      `Package: ${info.name}`,
      `Version: ${info.version}`,
      `Architecture: ${arch}`,
      `Maintainer: ${MAINTAINER}`,
      `Installed-Size: ${installedKb}`,
      // The libraries the bundled node and koffi link; libpcsclite1, which
      // koffi opens at run time (dpkg-shlibdeps cannot see that); pcscd for
      // the readers, libnss3-tools (certutil) for browsers' NSS stores, passwd
      // (useradd) and procps (pgrep) for the maintainer scripts.
      `Depends: ${libraries}, libpcsclite1, pcscd, libnss3-tools, ca-certificates, passwd, procps`,
      'Section: misc',
      'Priority: optional',
      `Description: ${info.description.split(':')[0]}`,
      ' Reads the Taiwan NHI card over PC/SC and answers the official NHIICC',
      ` WebSocket protocol on wss://${NHI_HOST}:${NHI_PORT} (loopback only),`,
      ' replacing the official component mLNHIICC.',
      ' .',
      ' Runs as the unprivileged system user nhiicc under systemd (nhiicc.service),',
      ' with a per-installation certificate authority trusted by the system store.',
      '',
    ].join('\n'),
  );

  fs.mkdirSync(OUT_DIR, { recursive: true });
  const out = path.join(OUT_DIR, `${info.name}_${info.version}_${arch}.deb`);
  log(`dpkg-deb --build -> ${path.relative(process.cwd(), out)}`);
  // xz at its default level is slow on 150 MB of Node; gzip keeps the test fast.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', root, out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}
