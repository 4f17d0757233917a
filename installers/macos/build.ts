// Builds dist/installers/nhiicc-<version>-<arch>.pkg with pkgbuild/productbuild.
// Runs on macOS only (CI job "macos" in .github/workflows/installers.yml): the
// pcsclite addon must be compiled there against PCSC.framework.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { hostTarget, INSTALLERS_DIR } from '../node-runtime.js';
import { appInfo, BUILD_DIR, log, OUT_DIR, REPO, stage } from '../stage.js';

export function buildPkg(): string {
  const target = hostTarget();
  if (!target.startsWith('darwin-')) throw new Error('the .pkg is built on macOS (pkgbuild, and a pcsclite addon built against PCSC.framework)');
  const info = appInfo();
  const staged = stage('pkg', { target });
  const work = path.join(BUILD_DIR, 'pkg');
  const root = path.join(work, 'root');
  const at = (p: string) => path.join(root, p);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(at('/usr/local/nhiicc/libexec'), { recursive: true });
  fs.cpSync(staged.app, at('/usr/local/nhiicc/app'), { recursive: true });
  fs.cpSync(path.join(staged.root, 'bin'), at('/usr/local/nhiicc/bin'), { recursive: true });
  fs.copyFileSync(path.join(INSTALLERS_DIR, 'macos', 'nhiicc-setup'), at('/usr/local/nhiicc/libexec/nhiicc-setup'));
  fs.chmodSync(at('/usr/local/nhiicc/libexec/nhiicc-setup'), 0o755);
  fs.mkdirSync(at('/usr/local/bin'), { recursive: true });
  fs.writeFileSync(
    at('/usr/local/bin/nhiicc'),
    '#!/bin/sh\n: "${NHIICC_CONFIG_DIR:=/Library/Application Support/nhiicc}"\nexport NHIICC_CONFIG_DIR\nexec /usr/local/nhiicc/bin/node /usr/local/nhiicc/app/dist/cli.js "$@"\n',
    { mode: 0o755 },
  );
  fs.mkdirSync(at('/Library/LaunchDaemons'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'launchd', 'tw.nhiicc.plist'), at('/Library/LaunchDaemons/tw.nhiicc.plist'));
  fs.chmodSync(at('/Library/LaunchDaemons/tw.nhiicc.plist'), 0o644);
  fs.mkdirSync(at('/usr/local/share/NHIICC/html'), { recursive: true });
  for (const f of ['ESample.html', 'esample.js']) {
    const src = path.join(staged.app, 'html', f);
    if (fs.existsSync(src)) fs.copyFileSync(src, at(`/usr/local/share/NHIICC/html/${f}`));
  }

  const component = path.join(work, 'nhiicc-component.pkg');
  const arch = target.split('-')[1]!;
  const out = path.join(OUT_DIR, `${info.name}-${info.version}-${arch}.pkg`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  log('pkgbuild + productbuild');
  execFileSync('pkgbuild', [
    '--root', root,
    '--scripts', path.join(INSTALLERS_DIR, 'macos', 'scripts'),
    '--identifier', 'tw.nhiicc',
    '--version', info.version,
    '--install-location', '/',
    '--ownership', 'recommended',
    component,
  ], { stdio: 'inherit' });
  execFileSync('productbuild', ['--identifier', 'tw.nhiicc', '--version', info.version, '--package', component, out], { stdio: 'inherit' });
  return out;
}
