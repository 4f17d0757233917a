// The program as packages ship it: the CLI and the service bundled by esbuild
// into a few ES modules, with only what cannot be bundled beside them.
//
//   <dir>/nhiicc.mjs     the entry: turns source maps on, then loads main.mjs
//   <dir>/main.mjs       the CLI, `serve` and `read`: what the service loads
//   <dir>/tools.mjs      cert, hosts, browser-policy and doctor, loaded by those commands
//   <dir>/issue.mjs      making a CA and certificate (the X.509 libraries), loaded when one is made
//   <dir>/control-worker.mjs  the Windows service's control thread (a worker_thread's own module)
//   <dir>/THIRD-PARTY-LICENSES.txt  the licences of the npm packages bundled in
//   <dir>/*.mjs.map      stack traces in our code point into src/
//   <dir>/koffi.node     koffi's binary for the target
//   <dir>/html/          the ESample page
//
// The parts are where src/ already loads code lazily (import()), so that the
// long-running service never reads the code of the other commands or of
// certificate making: measured on Node 24, one file holding all of it costs
// the service about 3 MB of memory and 20 ms of start. esbuild's own code
// splitting cuts the same code into ten shared chunks; three parts cut by
// hand keep the package at a handful of files. Each part is bundled whole,
// so small modules both use are in both; what crosses from one part to
// another is plain data, the commander program, and errors (cli.ts prints
// any error's message alike).
//
// `npm run bundle` writes dist/bundle/ for this machine; the package builds
// copy it and put the target's koffi.node beside it (stage.ts).
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { installedKoffiBinary } from './koffi-binary.js';
import { hostTarget } from './node-runtime.js';
import { REPO } from './npm-package.js';
import { keepSources, type RawSourceMap } from './source-map.js';
import { typeCheck } from './type-check.js';

const SRC = path.join(REPO, 'src');
export const BUNDLE_DIR = path.join(REPO, 'dist', 'bundle');
export const ENTRY = 'nhiicc.mjs';

/** Each part: what it exports (its entry), and the lazily imported modules it stands for. */
const PARTS: Record<string, Record<string, string[]>> = {
  'main.mjs': { [path.join(SRC, 'cli.ts')]: [] },
  'tools.mjs': {
    [path.join(SRC, 'cli', 'cert-command.ts')]: ['registerCertCommand'],
    [path.join(SRC, 'cli', 'hosts-command.ts')]: ['registerHostsCommand'],
    [path.join(SRC, 'cli', 'browser-policy-command.ts')]: ['registerBrowserPolicyCommand'],
    [path.join(SRC, 'cli', 'doctor-command.ts')]: ['registerDoctorCommand'],
  },
  'issue.mjs': {
    [path.join(SRC, 'tls', 'certificate-authority.ts')]: ['createTransientCa'],
    selfsigned: ['generate'],
  },
  'control-worker.mjs': { [path.join(SRC, 'windows-service', 'control-worker.ts')]: [] },
};

/** The part a lazily imported module (an absolute .ts path, or a package name) is in. */
const PART_OF = new Map(
  Object.entries(PARTS).flatMap(([part, modules]) => Object.keys(modules).map((m) => [m, part] as const)),
);

/** import() of a module that lives in another part becomes an import() of that part's file. */
function crossPart(self: string): esbuild.Plugin {
  return {
    name: 'cross-part',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const key = args.path.startsWith('.') ? path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts') : args.path;
        const part = PART_OF.get(key);
        if (part === undefined || part === self) return undefined;
        return { path: `./${part}`, external: true };
      });
    },
  };
}

interface LeftOut {
  why: string;
  matches: (args: esbuild.OnResolveArgs) => boolean;
  /** What stands in for the module; by default requiring it throws. */
  contents?: string;
}

/** Modules left out of the bundle: the code that would use them never runs. */
const LEFT_OUT: LeftOut[] = [
  // iconv-lite requires every table it knows (about 450 kB); the card needs
  // only Big5-HKSCS (cp950 + big5-added). Other encodings are then unknown.
  {
    why: 'only Big5-HKSCS is',
    matches: (a) => /iconv-lite[\\/]encodings$/.test(a.resolveDir) && /^\.\/tables\/(?!cp950\.json$|big5-added\.json$)/.test(a.path),
  },
  { why: 'only Big5-HKSCS is', matches: (a) => /iconv-lite[\\/]encodings$/.test(a.resolveDir) && a.path === './sbcs-data-generated', contents: 'module.exports = {};' },
  // No route declares a schema (src/server/app.ts gives fastify compilers that refuse).
  { why: 'no route declares a schema', matches: (a) => a.path === '@fastify/ajv-compiler' || a.path === '@fastify/fast-json-stringify-compiler' },
  { why: 'nothing injects fake requests', matches: (a) => a.path === 'light-my-request' },
  // ws tries these optional native add-ons and falls back to its own JS when
  // require() throws. Not installed, esbuild would leave the require() to run
  // time, where Node looks for them in every node_modules up from the
  // program's folder: C:\node_modules, which any Windows user may create,
  // would then give code to the service.
  { why: "ws's JavaScript is used", matches: (a) => a.path === 'bufferutil' || a.path === 'utf-8-validate' },
];

/** Drops src/cli.ts's #! line, which esbuild would carry to the output's first line. */
const noHashbang: esbuild.Plugin = {
  name: 'no-hashbang',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]cli\.ts$/ }, async (args) => ({
      // A comment in its place keeps the source map's line numbers.
      contents: (await fs.promises.readFile(args.path, 'utf8')).replace(/^#!.*/, '//'),
      loader: 'ts',
    }));
  },
};

const leaveOut: esbuild.Plugin = {
  name: 'left-out',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const rule = args.kind === 'require-call' ? LEFT_OUT.find((r) => r.matches(args)) : undefined;
      return rule && { path: args.path, namespace: 'left-out', pluginData: rule };
    });
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => {
      const rule = args.pluginData as LeftOut;
      return { contents: rule.contents ?? `throw new Error(${JSON.stringify(`${args.path} is not in the nhiicc bundle: ${rule.why}`)});`, loader: 'js' };
    });
  },
};

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The source text of a part's entry: the modules it stands for, re-exported. */
function partEntry(modules: Record<string, string[]>): string {
  return Object.entries(modules)
    .map(([m, names]) => `export { ${names.join(', ')} } from ${JSON.stringify(m)};`)
    .join('\n');
}

/**
 * Node decodes a whole source map the first time it formats a stack with
 * source maps on; with every library's mappings in it that took 45 MB. Only
 * our own code's mappings are kept, named from the repository's root
 * (src/…), which sourceRoot places.
 */
function trimSourceMap(mapFile: string, sourceRoot: string): void {
  const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as RawSourceMap;
  const fromRepo = (s: string) => path.relative(REPO, path.resolve(path.dirname(mapFile), s)).split(path.sep).join('/');
  const trimmed = keepSources({ ...map, sources: map.sources.map(fromRepo) }, (s) => s.startsWith('src/'));
  fs.writeFileSync(mapFile, JSON.stringify({ ...trimmed, sourceRoot }));
}

/** The entry stays tiny: Node reads the source maps of modules loaded after source maps are turned on. */
const ENTRY_TEXT = `// Generated by installers/bundle.ts.
// Run by the packages' own Node: nothing here is executed by name, so no #! line.
process.setSourceMapsEnabled(true);
await import('./main.mjs');
`;

export interface BundleResult {
  dir: string;
  /** Every file written, relative to dir. */
  files: string[];
}

/**
 * Bundles the program into dir (emptied first), with koffiNode as its
 * koffi.node. Stack traces name our files sourceRoot + 'src/…': by default
 * the checkout's own.
 */
export async function bundle(dir = BUNDLE_DIR, koffiNode = installedKoffiBinary(hostTarget()), sourceRoot?: string): Promise<BundleResult> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // koffi's binary ships beside the bundle.
  const bundled = new Set<string>(['node_modules/koffi/package.json']);
  for (const [part, modules] of Object.entries(PARTS)) {
    const single = Object.entries(modules).length === 1 && Object.values(modules)[0]!.length === 0;
    await esbuild.build({
      ...(single ? { entryPoints: [Object.keys(modules)[0]!] } : { stdin: { contents: partEntry(modules), resolveDir: SRC, sourcefile: part, loader: 'ts' } }),
      outfile: path.join(dir, part),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Less to read and parse at every start. Identifiers are not minified:
      // on Node 24 that cost the service 2 MB more than it saved (Node 20:
      // 1 MB less), and names show in logs and stack traces.
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: 'linked',
      sourcesContent: false,
      define: { NHIICC_BUNDLE: JSON.stringify({ version: version() }) },
      // src/cli.ts's #! line is for dist/cli.js (package.json bin); the
      // packages run the bundle with their own Node, by path.
      plugins: [crossPart(part), leaveOut, noHashbang],
      // Bundled CommonJS code calls require() for Node's own modules.
      banner: { js: "import { createRequire as __nhiiccCreateRequire } from 'node:module'; const require = __nhiiccCreateRequire(import.meta.url);" },
      logLevel: 'warning',
      // The metafile names its inputs from here.
      absWorkingDir: REPO,
      metafile: true,
    }).then((r) => {
      for (const input of Object.keys(r.metafile.inputs)) bundled.add(input);
      return r;
    });
    trimSourceMap(path.join(dir, `${part}.map`), sourceRoot ?? `${path.relative(dir, REPO).split(path.sep).join('/')}/`);
  }
  fs.writeFileSync(path.join(dir, ENTRY), ENTRY_TEXT);
  fs.writeFileSync(path.join(dir, LICENSES), thirdPartyLicenses(bundled));
  fs.copyFileSync(koffiNode, path.join(dir, 'koffi.node'));
  fs.cpSync(path.join(REPO, 'html'), path.join(dir, 'html'), { recursive: true });
  return { dir, files: listFiles(dir) };
}

export const LICENSES = 'THIRD-PARTY-LICENSES.txt';

/** The package folder (…/node_modules/name or …/node_modules/@scope/name) an input file is in. */
function packageOf(input: string): string | undefined {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.split(path.sep).join('/'));
  return m?.[1];
}

/**
 * The bundle carries other people's code: their licences ask that their
 * notices go with it. One text: each bundled npm package, its licence
 * name, and its licence file as it ships it.
 */
function thirdPartyLicenses(inputs: Set<string>): string {
  const packages = [...new Set([...inputs].map(packageOf).filter((p): p is string => p !== undefined))].sort();
  const sections = packages.map((rel) => {
    const dir = path.resolve(REPO, rel);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f));
    const text = file ? fs.readFileSync(path.join(dir, file), 'utf8').trim() : `(no licence file in the package; its package.json says: ${manifest.license ?? 'nothing'})`;
    return `${manifest.name} ${manifest.version} (${manifest.license ?? 'unknown'})\n${'-'.repeat(72)}\n${text}\n`;
  });
  return `The nhiicc program bundles these npm packages.\n\n${sections.join('\n\n')}`;
}

export function listFiles(dir: string, prefix = ''): string[] {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

if (process.argv[1] === import.meta.filename) {
  typeCheck();
  const { dir, files } = await bundle();
  process.stdout.write(`${path.relative(process.cwd(), dir)}: ${files.join(', ')}\n`);
}
