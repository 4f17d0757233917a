// Builds dist/installers/nhiicc_<version>_<arch>.deb with dpkg-deb.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { INSTALLERS_DIR, type Target } from '../node-runtime.js';
import { linuxTree, POLKIT_RULE } from '../linux/layout.js';
import { appInfo, BUILD_DIR, defaultTarget, log, OUT_DIR, stage } from '../stage.js';

const DEB_ARCH: Partial<Record<Target, string>> = { 'linux-x64': 'amd64', 'linux-arm64': 'arm64' };

/** The .deb for target (linux-x64 or linux-arm64), built on any Linux machine: nothing in it is compiled here. */
export async function buildDeb(target: Target = defaultTarget('linux')): Promise<string> {
  const arch = DEB_ARCH[target];
  if (!arch) throw new Error(`no .deb for ${target}: linux-x64 or linux-arm64`);
  const info = appInfo();
  const staged = await stage('deb', target);
  const root = path.join(BUILD_DIR, `deb-${target}`, 'root');
  // Debian 12 still keeps units in /lib (usrmerge makes both work).
  linuxTree(staged, root, '/lib/systemd/system');

  const debian = path.join(root, 'DEBIAN');
  fs.mkdirSync(debian);
  for (const script of ['preinst', 'postinst', 'prerm', 'postrm']) {
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
      'Maintainer: nhiicc developers <nhiicc@users.noreply.github.com>',
      `Installed-Size: ${installedKb}`,
      // The bundled node links only glibc/libstdc++; libpcsclite1 is the
      // PC/SC library koffi loads, pcscd serves the readers, libnss3-tools (certutil) for browsers' NSS
      // stores, passwd (useradd) and procps (pgrep) for the maintainer scripts.
      'Depends: pcscd, libnss3-tools, libpcsclite1, ca-certificates, passwd, procps',
      'Section: misc',
      'Priority: optional',
      `Description: ${info.description.split(':')[0]}`,
      ` ${info.description}`,
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
