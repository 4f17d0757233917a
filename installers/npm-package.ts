// Packages for another OS or CPU than this machine's, fetched from the npm
// registry with `npm pack` (npm installs only the host's), checked against a
// pinned integrity and cached unpacked in installers/.cache/npm.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const INSTALLERS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.dirname(INSTALLERS_DIR);
export const CACHE_DIR = path.join(INSTALLERS_DIR, '.cache', 'npm');

function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

/** The tarball's name as `npm pack` writes it: @scope/name -> scope-name-version.tgz. */
const tarballName = (name: string, version: string) => `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;

/** The unpacked `package/` folder of name@version, whose tarball has exactly this integrity. */
export function fetchPackage(name: string, version: string, integrity: string, log: (msg: string) => void = () => {}): string {
  const tgz = path.join(CACHE_DIR, tarballName(name, version));
  const dir = tgz.replace(/\.tgz$/, '');
  // The folder is only ever renamed into place from a checked tarball.
  if (fs.existsSync(path.join(dir, 'package')) && fs.existsSync(tgz) && integrityOf(tgz) === integrity) return path.join(dir, 'package');
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  if (!fs.existsSync(tgz) || integrityOf(tgz) !== integrity) {
    log(`fetching ${name}@${version} from the npm registry`);
    execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', CACHE_DIR, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      shell: process.platform === 'win32', // npm is npm.cmd there
    });
  }
  const got = integrityOf(tgz);
  if (got !== integrity) {
    fs.rmSync(tgz, { force: true });
    throw new Error(`${name}@${version}: the registry's tarball has integrity ${got}, not the pinned ${integrity}`);
  }
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', tmp]);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return path.join(dir, 'package');
}
