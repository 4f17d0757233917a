// npm run package -- <deb|rpm|pkg|msi>: builds one installer into dist/installers/.
import { buildDeb } from './deb/build.js';
import { buildMsi } from './windows/build.js';
import { buildPkg } from './macos/build.js';
import { buildRpm } from './rpm/build.js';

const builders: Record<string, () => string | Promise<string>> = { deb: buildDeb, rpm: buildRpm, pkg: buildPkg, msi: buildMsi };

const formats = process.argv.slice(2);
if (formats.length === 0 || formats.some((f) => !(f in builders))) {
  process.stderr.write(`usage: npm run package -- <${Object.keys(builders).join('|')}> [...]\n`);
  process.exit(2);
}
try {
  for (const f of formats) process.stdout.write(`${await builders[f]!()}\n`);
} catch (err) {
  process.stderr.write(`package: ${(err as Error).message}\n`);
  process.exit(1);
}
