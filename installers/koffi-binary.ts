// koffi's native binary for a target. koffi's JS finds it in node_modules
// (@koromix/koffi-<os>-<arch>, or koffi/build/…); the bundled program ships
// no node_modules and loads it from beside itself as koffi.node
// (src/pcsc/winscard.ts). The packages are fetched at the version and
// integrity package-lock.json pins for every platform.
import fs from 'node:fs';
import path from 'node:path';
import type { Target } from './node-runtime.js';
import { fetchPackage, REPO } from './npm-package.js';

const KOFFI_OS: Record<string, string> = { linux: 'linux', win: 'win32', darwin: 'darwin' };

interface LockEntry {
  version: string;
  integrity: string;
}

function locked(name: string): LockEntry {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry | undefined> };
  const entry = lock.packages[`node_modules/${name}`];
  if (!entry?.version || !entry.integrity) throw new Error(`package-lock.json pins no ${name}: run npm install`);
  return entry;
}

/** `@koromix/koffi-win32-x64` for win-x64, and the folder its binary is in (`win32_x64`; on Linux the glibc build). */
function koffiPackage(target: Target): { name: string; folder: string } {
  const [os, cpu] = target.split('-') as [string, string];
  const kos = KOFFI_OS[os]!;
  return { name: `@koromix/koffi-${kos}-${cpu}`, folder: `${kos}_${cpu}` };
}

/** koffi.node for target from the pinned @koromix package, fetched and cached. */
export function koffiBinary(target: Target, log: (msg: string) => void = () => {}): { file: string; version: string } {
  const { name, folder } = koffiPackage(target);
  const pin = locked(name);
  const js = locked('koffi');
  // The binary and koffi's JS (whose types and calls the card layer uses) move together.
  if (pin.version !== js.version) throw new Error(`package-lock.json pins koffi ${js.version} but ${name} ${pin.version}`);
  const dir = fetchPackage(name, pin.version, pin.integrity, log);
  const file = path.join(dir, folder, 'koffi.node');
  if (!fs.existsSync(file)) throw new Error(`${name}@${pin.version} has no ${folder}/koffi.node`);
  return { file, version: pin.version };
}

/** This machine's koffi.node as npm installed it (npm checked its integrity), for the development bundle. */
export function installedKoffiBinary(target: Target): string {
  const { name, folder } = koffiPackage(target);
  const file = path.join(REPO, 'node_modules', name, folder, 'koffi.node');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: npm installs koffi's binary for this machine only (npm ci)`);
  return file;
}
