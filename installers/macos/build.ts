// The macOS package: its payload tree is built anywhere (nothing in it is
// compiled: Node and koffi's binary come for the target from npm); pkgbuild
// and productbuild, which exist only on macOS, then make
// dist/installers/nhiicc-<version>-<arch>.pkg of it (CI job "macos" in
// .github/workflows/installers.yml). Elsewhere the build stops after the
// payload and says where it is.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LAUNCHD_LABEL } from '../../src/config/names.js';
import { INSTALLERS_DIR, type Target } from '../node-runtime.js';
import { appInfo, BUILD_DIR, defaultTarget, log, OUT_DIR, REPO, stage } from '../stage.js';

export const MACOS_PREFIX = '/usr/local/nhiicc';

/** The payload root for target: what pkgbuild installs under /. */
export async function buildPkgPayload(target: Target = defaultTarget('darwin')): Promise<string> {
  if (!target.startsWith('darwin-')) throw new Error(`no macOS package for ${target}`);
  const staged = await stage('pkg', target);
  const root = path.join(BUILD_DIR, `pkg-${target}`, 'root');
  const at = (p: string) => path.join(root, p);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(at(`${MACOS_PREFIX}/libexec`), { recursive: true });
  fs.cpSync(staged.app, at(`${MACOS_PREFIX}/app`), { recursive: true });
  fs.cpSync(path.join(staged.root, 'bin'), at(`${MACOS_PREFIX}/bin`), { recursive: true });
  fs.copyFileSync(path.join(INSTALLERS_DIR, 'macos', 'nhiicc-setup'), at(`${MACOS_PREFIX}/libexec/nhiicc-setup`));
  fs.chmodSync(at(`${MACOS_PREFIX}/libexec/nhiicc-setup`), 0o755);
  fs.mkdirSync(at('/usr/local/bin'), { recursive: true });
  fs.writeFileSync(
    at('/usr/local/bin/nhiicc'),
    `#!/bin/sh\n: "\${NHIICC_CONFIG_DIR:=/Library/Application Support/nhiicc}"\nexport NHIICC_CONFIG_DIR\nexec ${MACOS_PREFIX}/bin/node ${MACOS_PREFIX}/app/nhiicc.mjs "$@"\n`,
    { mode: 0o755 },
  );
  fs.mkdirSync(at('/Library/LaunchDaemons'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'launchd', `${LAUNCHD_LABEL}.plist`), at(`/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`));
  fs.chmodSync(at(`/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`), 0o644);
  fs.mkdirSync(at('/usr/local/share/NHIICC/html'), { recursive: true });
  for (const f of ['ESample.html', 'esample.js']) {
    const src = path.join(staged.app, 'html', f);
    if (fs.existsSync(src)) fs.copyFileSync(src, at(`/usr/local/share/NHIICC/html/${f}`));
  }
  return root;
}

/** The .pkg on macOS; elsewhere the payload tree, with a note that pkgbuild needs macOS. */
export async function buildPkg(target: Target = defaultTarget('darwin')): Promise<string> {
  const root = await buildPkgPayload(target);
  if (process.platform !== 'darwin') {
    log(`pkgbuild and productbuild run only on macOS: the ${target} payload is in ${path.relative(process.cwd(), root)} (CI job "macos" makes the .pkg)`);
    return root;
  }
  const info = appInfo();
  const work = path.dirname(root);
  const component = path.join(work, 'nhiicc-component.pkg');
  const out = path.join(OUT_DIR, `${info.name}-${info.version}-${target.split('-')[1]}.pkg`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  log('pkgbuild + productbuild');
  execFileSync('pkgbuild', [
    '--root', root,
    '--scripts', path.join(INSTALLERS_DIR, 'macos', 'scripts'),
    '--identifier', LAUNCHD_LABEL,
    '--version', info.version,
    '--install-location', '/',
    '--ownership', 'recommended',
    component,
  ], { stdio: 'inherit' });
  execFileSync('productbuild', ['--identifier', LAUNCHD_LABEL, '--version', info.version, '--package', component, out], { stdio: 'inherit' });
  return out;
}
