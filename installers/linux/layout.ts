// The Linux file layout shared by the .deb and .rpm builders.
import fs from 'node:fs';
import path from 'node:path';
import { POLKIT_RULE } from '../../src/config/paths.js';
import { INSTALLERS_DIR } from '../node-runtime.js';
import { REPO, type Staged } from '../stage.js';

/** The app and its Node runtime: a program's private files (not /opt, which is the administrator's). */
export const PREFIX = '/usr/lib/nhiicc';
/**
 * The check page. The official manual names /usr/local/share/NHIICC/html, but
 * /usr/local is the administrator's: nhiicc-setup links that path here.
 */
export const ESAMPLE_DIR = '/usr/share/nhiicc/html';
export const ESAMPLE_FILES = ['ESample.html', 'esample.js'];

/**
 * Where systemd units go: Fedora's %{_unitdir}, and on Debian the place that
 * works on both 12 and 13 (on 13's merged /usr, dpkg cannot remove a /lib
 * folder it knows by that name: "/lib/systemd/system not empty").
 */
export const UNIT_DIR = '/usr/lib/systemd/system';
/** The socket listens; the service starts on the first connection (socket activation). */
export const SYSTEMD_UNITS = ['nhiicc.socket', 'nhiicc.service'];

/** Lays out the installed tree under root (a package's data root). */
export function linuxTree(staged: Staged, root: string): void {
  const at = (p: string) => path.join(root, p);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(at(PREFIX), { recursive: true });
  // The page lives in /usr/share (nhiicc.service says where, NHIICC_HTML_DIR).
  fs.cpSync(staged.app, at(`${PREFIX}/app`), { recursive: true, filter: (src) => path.relative(staged.app, src) !== 'html' });
  fs.cpSync(path.join(staged.root, 'bin'), at(`${PREFIX}/bin`), { recursive: true });

  fs.mkdirSync(at(`${PREFIX}/libexec`), { recursive: true });
  fs.copyFileSync(path.join(INSTALLERS_DIR, 'linux', 'nhiicc-setup'), at(`${PREFIX}/libexec/nhiicc-setup`));
  fs.chmodSync(at(`${PREFIX}/libexec/nhiicc-setup`), 0o755);

  fs.mkdirSync(at('/usr/bin'), { recursive: true });
  fs.copyFileSync(path.join(INSTALLERS_DIR, 'linux', 'nhiicc'), at('/usr/bin/nhiicc'));
  fs.chmodSync(at('/usr/bin/nhiicc'), 0o755);

  fs.mkdirSync(at(UNIT_DIR), { recursive: true });
  for (const unit of SYSTEMD_UNITS) fs.copyFileSync(path.join(REPO, 'systemd', unit), at(`${UNIT_DIR}/${unit}`));

  fs.mkdirSync(at(path.dirname(POLKIT_RULE)), { recursive: true });
  fs.copyFileSync(path.join(INSTALLERS_DIR, 'linux', '60-nhiicc-pcscd.rules'), at(POLKIT_RULE));

  fs.mkdirSync(at(ESAMPLE_DIR), { recursive: true });
  for (const f of ESAMPLE_FILES) fs.copyFileSync(path.join(staged.app, 'html', f), at(`${ESAMPLE_DIR}/${f}`));
  normalizeModes(root);
}

/** Whatever the checkout's umask was, installed files are 0644/0755. */
function normalizeModes(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) {
      fs.chmodSync(p, 0o755);
      normalizeModes(p);
    } else {
      // Shared objects are loaded, not run.
      const exec = (fs.statSync(p).mode & 0o111) !== 0 && !/\.(node|so)(\.\d+)*$/.test(e.name);
      fs.chmodSync(p, exec ? 0o755 : 0o644);
    }
  }
}
