// Builds dist/installers/nhiicc-<version>-1.<arch>.rpm with rpmbuild from nhiicc.spec.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { INSTALLERS_DIR, type Target } from '../node-runtime.js';
import { linuxTree, UNIT_DIR } from '../linux/layout.js';
import { appInfo, BUILD_DIR, defaultTarget, log, OUT_DIR, stage } from '../stage.js';

const RPM_ARCH: Partial<Record<Target, string>> = { 'linux-x64': 'x86_64', 'linux-arm64': 'aarch64' };

/** The .rpm for target (linux-x64 or linux-arm64), built on any Linux machine: nothing in it is compiled here. */
export async function buildRpm(target: Target = defaultTarget('linux')): Promise<string> {
  const arch = RPM_ARCH[target];
  if (!arch) throw new Error(`no .rpm for ${target}: linux-x64 or linux-arm64`);
  const info = appInfo();
  const staged = await stage('rpm', target);
  const work = path.join(BUILD_DIR, `rpm-${target}`);
  const root = path.join(work, 'root');
  linuxTree(staged, root);

  const top = path.join(work, 'rpmbuild');
  fs.rmSync(top, { recursive: true, force: true });
  log('rpmbuild -bb installers/rpm/nhiicc.spec');
  execFileSync(
    'rpmbuild',
    [
      '-bb',
      '--quiet',
      '--target', arch,
      '--define', `_topdir ${top}`,
      // Fedora/RHEL's %{_unitdir}; rpm on Debian does not define it.
      '--define', `_unitdir ${UNIT_DIR}`,
      '--define', `nhiicc_version ${info.version}`,
      '--define', `nhiicc_root ${root}`,
      '--define', '_binary_payload w6.gzdio',
      path.join(INSTALLERS_DIR, 'rpm', 'nhiicc.spec'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const built = path.join(top, 'RPMS', arch, `${info.name}-${info.version}-1.${arch}.rpm`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const out = path.join(OUT_DIR, path.basename(built));
  fs.copyFileSync(built, out);
  return out;
}
