// npm run package -- <format>[:<target>] ...: builds installers into dist/installers/.
//   deb, rpm   linux-x64 (default on x64) or linux-arm64:  deb:linux-arm64
//   msi        win-x64
//   pkg        darwin-x64 (default), or darwin-arm64 with NHIICC_NODE_BINARY;
//              outside macOS only the payload tree (pkgbuild is macOS's)
//   all        every package above, both Linux CPUs
import { buildDeb } from './deb/build.js';
import { buildPkg } from './macos/build.js';
import { isTarget, type Target } from './node-runtime.js';
import { buildRpm } from './rpm/build.js';
import { reportMissingRuntimes } from './stage.js';
import { buildMsi } from './windows/build.js';

const builders: Record<string, (target?: Target) => Promise<string>> = {
  deb: buildDeb,
  rpm: buildRpm,
  pkg: buildPkg,
  msi: async (target) => {
    if (target && target !== 'win-x64') throw new Error(`the .msi is for win-x64, not ${target}`);
    return buildMsi();
  },
};

const ALL = ['deb:linux-x64', 'deb:linux-arm64', 'rpm:linux-x64', 'rpm:linux-arm64', 'msi', 'pkg:darwin-x64'];

const requests = process.argv.slice(2).flatMap((a) => (a === 'all' ? ALL : [a]));
const parsed = requests.map((r) => {
  const [format = '', target] = r.split(':');
  return { r, format, target };
});
const bad = parsed.filter(({ format, target }) => !(format in builders) || (target !== undefined && !isTarget(target)));
if (parsed.length === 0 || bad.length > 0) {
  process.stderr.write(`usage: npm run package -- <${Object.keys(builders).join('|')}>[:<target>] ... | all\n`);
  if (bad.length > 0) process.stderr.write(`not understood: ${bad.map((b) => b.r).join(', ')}\n`);
  process.exit(2);
}
try {
  reportMissingRuntimes();
  for (const { format, target } of parsed) process.stdout.write(`${await builders[format]!(target as Target | undefined)}\n`);
} catch (err) {
  process.stderr.write(`package: ${(err as Error).message}\n`);
  process.exit(1);
}
