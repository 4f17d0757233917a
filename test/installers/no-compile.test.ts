// Nothing of ours may need a compiler at install time: no package in the
// installed tree builds native code (binding.gyp, node-gyp), and the only
// install scripts npm may run are the ones package.json allows on purpose.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { REPO } from './helpers.js';

interface Manifest {
  name?: string;
  scripts?: Record<string, string>;
  gypfile?: boolean;
  allowScripts?: Record<string, boolean>;
}

function* packages(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const p = path.join(dir, entry.name);
    if (entry.name.startsWith('@')) yield* packages(p);
    else if (fs.existsSync(path.join(p, 'package.json'))) {
      yield p;
      if (fs.existsSync(path.join(p, 'node_modules'))) yield* packages(path.join(p, 'node_modules'));
    }
  }
}

const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

t.test('no installed package builds native code, and only allowed install scripts run', async (t) => {
  const allowed = read(path.join(REPO, 'package.json')).allowScripts ?? {};
  const all = [...packages(path.join(REPO, 'node_modules'))];
  t.ok(all.length > 100, `${all.length} packages looked at`);
  const native = all.filter((p) => fs.existsSync(path.join(p, 'binding.gyp')) || read(path.join(p, 'package.json')).gypfile);
  t.same(native.map((p) => path.relative(REPO, p)), [], 'no binding.gyp in the tree');
  const scripted = all
    .map((p) => ({ p, m: read(path.join(p, 'package.json')) }))
    .filter(({ m }) => INSTALL_SCRIPTS.some((s) => m.scripts?.[s]))
    .map(({ p, m }) => ({ name: m.name!, where: path.relative(REPO, p), scripts: INSTALL_SCRIPTS.map((s) => m.scripts?.[s]).filter(Boolean).join('; ') }));
  for (const { name, where, scripts } of scripted) {
    if (allowed[name] === true) t.notMatch(scripts, /node-gyp|cmake|make\b|cc\b/, `${where}: its allowed install script compiles nothing`);
    else t.equal(allowed[name], false, `${where} has an install script (${scripts}): package.json must allow or deny it on purpose`);
  }
  t.equal(allowed.koffi, false, "koffi's script would fall back to compiling with cmake: denied; its prebuilt binary comes as a package");
});
