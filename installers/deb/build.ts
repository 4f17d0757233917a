// Builds dist/installers/nhiicc_<version>_<arch>.deb with dpkg-deb.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { POLKIT_RULE } from '../../src/config/paths.js';
import { linuxTree, PREFIX } from '../linux/layout.js';
import { INSTALLERS_DIR, hostTarget } from '../node-runtime.js';
import { appInfo, BUILD_DIR, log, OUT_DIR, REPO, stage } from '../stage.js';
import { addDocs, libraryDepends, MAINTAINER, pruneModules, stripBinaries } from './conventions.js';

const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/** The last commit's date (the changelog's), or now outside a git checkout. */
function releaseDate(): Date {
  try {
    return new Date(Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) * 1000);
  } catch {
    return new Date();
  }
}

export function buildDeb(): string {
  const target = hostTarget();
  if (!target.startsWith('linux-')) throw new Error('the .deb is built on Linux: it ships the koffi binary npm installed here');
  const arch = DEB_ARCH[process.arch];
  if (!arch) throw new Error(`no Debian architecture for ${process.arch}`);
  const info = appInfo();
  const staged = stage('deb', { target });
  const root = path.join(BUILD_DIR, 'deb', 'root');
  linuxTree(staged, root);
  pruneModules(path.join(root, PREFIX, 'app', 'node_modules'));
  const binaries = stripBinaries(path.join(root, PREFIX));
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
      `Depends: ${libraryDepends(binaries)}, libpcsclite1, pcscd, libnss3-tools, ca-certificates, passwd, procps`,
      'Section: misc',
      'Priority: optional',
      `Description: ${info.description.split(':')[0]}`,
      ' Reads the Taiwan NHI card over PC/SC and answers the official NHIICC',
      ' WebSocket protocol on wss://iccert.nhi.gov.tw:7777 (loopback only),',
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
