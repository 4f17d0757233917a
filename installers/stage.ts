// Puts the program as the packages install it into a staging folder, for one
// target, shared by every format's builder:
//   <root>/app/   the bundled program (bundle.ts) with its html/ page and the target's
//                 koffi.node (the Windows service's control thread on Windows only), README.md
//   <root>/bin/   node[.exe] for the target, NODE-LICENSE, NODE-VERSION
// and checks that every binary in it is built for that target.
import fs from 'node:fs';
import path from 'node:path';
import { bundle, listFiles } from './bundle.js';
import { koffiBinary } from './koffi-binary.js';
import { assertMachine, machineType } from './machine-type.js';
import { missingRuntime, nodeRuntime, type Target, TARGETS } from './node-runtime.js';
import { INSTALLERS_DIR, REPO } from './npm-package.js';
import { log, typeCheck } from './type-check.js';

export { REPO };
export const OUT_DIR = path.join(REPO, 'dist', 'installers');
export const BUILD_DIR = path.join(INSTALLERS_DIR, 'build');

export { log };

export interface AppInfo {
  name: string;
  version: string;
  description: string;
  license: string;
}

export function appInfo(): AppInfo {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as AppInfo;
  return { name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license };
}

/** Says which targets have no Node runtime on npm (build output and README say the same). */
export function reportMissingRuntimes(): void {
  for (const target of TARGETS) {
    const why = missingRuntime(target);
    if (why) log(`note: ${why}`);
  }
}

export interface Staged {
  target: Target;
  root: string;
  app: string;
  node: string;
  nodeVersion: string;
  html: string[];
}

/** Every file under dir that is an executable or library, with what it is built for. */
function binaries(dir: string): Array<{ file: string; cpus: string[] }> {
  return listFiles(dir).flatMap((rel) => {
    const file = path.join(dir, rel);
    try {
      return [{ file, cpus: machineType(file).cpus }];
    } catch {
      return [];
    }
  });
}

/** The bundle's part only the Windows service loads. */
const WINDOWS_ONLY = 'control-worker.mjs';

export async function stage(format: string, target: Target): Promise<Staged> {
  typeCheck();
  const root = path.join(BUILD_DIR, `${format}-${target}`, 'stage');
  fs.rmSync(root, { recursive: true, force: true });
  const app = path.join(root, 'app');
  log(`staging the program for ${target} in ${path.relative(REPO, root)}`);

  const koffi = koffiBinary(target, log);
  // Stack traces then name <app>/src/…, the files the program was built from.
  const bundled = await bundle(app, koffi.file, '');
  // The Windows service's control thread runs on Windows only.
  const files = target.startsWith('win-') ? bundled.files : bundled.files.filter((f) => !f.startsWith(WINDOWS_ONLY));
  for (const f of bundled.files) if (!files.includes(f)) fs.rmSync(path.join(app, f));
  fs.copyFileSync(path.join(REPO, 'README.md'), path.join(app, 'README.md'));
  log(`program: ${files.length + 1} files, koffi ${koffi.version} for ${target}`);

  const runtime = nodeRuntime(target, log);
  const bin = path.join(root, 'bin');
  const node = path.join(bin, path.basename(runtime.binary));
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(runtime.binary, node);
  fs.chmodSync(node, 0o755);
  if (runtime.license && fs.existsSync(runtime.license)) fs.copyFileSync(runtime.license, path.join(bin, 'NODE-LICENSE'));
  fs.writeFileSync(path.join(bin, 'NODE-VERSION'), `v${runtime.version}\n`);
  log(`runtime: Node ${runtime.version} for ${target}`);

  // Nothing built for another OS or CPU may ride along.
  assertMachine(node, target);
  assertMachine(path.join(app, 'koffi.node'), target);
  for (const { file } of binaries(root)) assertMachine(file, target);

  const html = fs.readdirSync(path.join(app, 'html'));
  if (!html.includes('ESample.html')) throw new Error('html/ESample.html is missing: the package would have no check page');
  return { target, root, app, node, nodeVersion: runtime.version, html };
}

/** The target a format builds when none is named: this machine's CPU for Linux, win-x64, darwin-x64. */
export function defaultTarget(os: 'linux' | 'win' | 'darwin'): Target {
  if (os === 'linux') return process.arch === 'arm64' ? 'linux-arm64' : 'linux-x64';
  if (os === 'darwin' && process.platform === 'darwin' && process.arch === 'arm64' && process.env.NHIICC_NODE_BINARY) return 'darwin-arm64';
  return `${os}-x64`;
}
