// Puts the app as the packages install it into a staging folder:
//   <root>/app/{dist,html,package.json,README.md,node_modules}
//   <root>/bin/node[.exe]
// shared by every format's builder.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { INSTALLERS_DIR, NODE_VERSION, nodeRuntime, type Target } from './node-runtime.js';

export const REPO = path.dirname(INSTALLERS_DIR);
export const OUT_DIR = path.join(REPO, 'dist', 'installers');
export const BUILD_DIR = path.join(INSTALLERS_DIR, 'build');

export const log = (msg: string) => process.stderr.write(`[package] ${msg}\n`);

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

/** `npm run build`, unless NHIICC_SKIP_BUILD=1 (CI builds once for all formats). */
export function buildApp(): void {
  if (process.env.NHIICC_SKIP_BUILD !== '1') {
    log('npm run build');
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], shell: process.platform === 'win32' });
    // tsc still emits on type errors; a half-typed tree elsewhere must not stop packaging what compiled.
    if (r.status !== 0) log(`npm run build exited ${r.status}; packaging what it emitted`);
  }
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js missing: the build failed');
}

/** Production dependencies as npm resolved them (no dev tools, no test deps). */
function productionPackages(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    shell: process.platform === 'win32',
    maxBuffer: 16 * 1024 * 1024,
  });
  return out
    .split(/\r?\n/)
    .filter(Boolean)
    .map((p) => path.relative(REPO, p))
    .filter((rel) => rel.startsWith('node_modules'));
}

export interface StageOptions {
  target: Target;
}

export interface Staged {
  root: string;
  app: string;
  node: string;
  html: string[];
}

export function stage(format: string, opts: StageOptions): Staged {
  buildApp();
  const root = path.join(BUILD_DIR, format, 'stage');
  fs.rmSync(root, { recursive: true, force: true });
  const app = path.join(root, 'app');
  fs.mkdirSync(app, { recursive: true });

  log(`staging the app for ${opts.target} in ${path.relative(REPO, root)}`);
  fs.cpSync(path.join(REPO, 'dist'), path.join(app, 'dist'), {
    recursive: true,
    // dist/installers holds the packages themselves.
    filter: (src) => path.relative(path.join(REPO, 'dist'), src).split(path.sep)[0] !== 'installers',
  });
  for (const f of ['package.json', 'README.md', 'LICENSE']) {
    if (fs.existsSync(path.join(REPO, f))) fs.copyFileSync(path.join(REPO, f), path.join(app, f));
  }
  const html: string[] = [];
  if (fs.existsSync(path.join(REPO, 'html'))) {
    fs.cpSync(path.join(REPO, 'html'), path.join(app, 'html'), { recursive: true });
    html.push(...fs.readdirSync(path.join(REPO, 'html')));
  }
  if (!html.includes('ESample.html')) log('warning: html/ESample.html is not in the tree yet; the package has no check page');

  for (const rel of productionPackages()) {
    // Nested node_modules are listed on their own.
    fs.cpSync(path.join(REPO, rel), path.join(app, rel), {
      recursive: true,
      filter: (src) => path.relative(path.join(REPO, rel), src).split(path.sep)[0] !== 'node_modules',
    });
  }

  const node = nodeRuntime(opts.target, log);
  const nodeDest = path.join(root, 'bin', path.basename(node));
  fs.mkdirSync(path.dirname(nodeDest), { recursive: true });
  fs.copyFileSync(node, nodeDest);
  fs.chmodSync(nodeDest, 0o755);
  const license = path.join(path.dirname(path.dirname(node)), 'LICENSE');
  if (fs.existsSync(license)) fs.copyFileSync(license, path.join(root, 'bin', 'NODE-LICENSE'));
  fs.writeFileSync(path.join(root, 'bin', 'NODE-VERSION'), `v${NODE_VERSION}\n`);

  return { root, app, node: nodeDest, html };
}
