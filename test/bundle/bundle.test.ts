// The bundled program on its own: bundled into a folder away from this
// checkout (so no node_modules can be found), it reads the card through the
// koffi.node beside it, serves the check pages from the html/ beside it,
// makes certificates and runs doctor from its other parts, and a stack
// captured inside the running service names our source files.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import t from 'tap';
import { bundle } from '../../installers/bundle.js';
import { startTestBed } from '../bed/testbed.js';
import { NODE, NODE_LABEL } from '../helpers/cli.js';
import { expectedBasic, loadProfile } from '../helpers/profiles.js';
import { ask, openSocket } from '../helpers/served.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-bundle-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const dir = path.join(work, 'app');
const { files } = await bundle(dir);
const cli = path.join(dir, 'nhiicc.mjs');
t.comment(`bundled into ${dir}: ${files.join(', ')}; run on ${NODE_LABEL}`);

const bed = await startTestBed();
t.teardown(() => bed.stop());
const hkscs = loadProfile('hkscs');
const card = bed.card(hkscs);
await card.insert();

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [cli, ...args], { env: { ...process.env, ...env }, cwd: work });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

t.test('nothing outside the folder: no node_modules above it', async (t) => {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) t.notOk(fs.existsSync(path.join(d, 'node_modules')), `no node_modules in ${d}`);
});

t.test('every require() left in the bundle names a Node built-in: nothing is looked up in node_modules up the folder tree', async (t) => {
  // A package the bundle does not carry would be searched for in
  // <program>/node_modules, <program>/../node_modules, … up to C:\node_modules,
  // a folder any Windows user may create: code the service would run.
  for (const part of files.filter((f) => f.endsWith('.mjs'))) {
    const text = fs.readFileSync(path.join(dir, part), 'utf8');
    const required = [...new Set([...text.matchAll(/(?<![\w$.])require\("([^"]+)"\)/g)].map((m) => m[1]!))];
    t.same(required.filter((name) => !isBuiltin(name)), [], `${part}: ${required.length} modules required at run time, all Node's own`);
    t.notMatch(text, /(?<![\w$.])require\((?!["'])/, `${part}: no require() of a name made at run time`);
  }
});

t.test('read: koffi.node beside the program reaches pcscd; the HKSCS name decodes', async (t) => {
  const r = await run(['read', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { card_no: hkscs.cardNo, name: '林喆𡃁' });
});

const configDir = path.join(work, 'config');

t.test('cert init and doctor: the parts loaded on demand are found', async (t) => {
  const init = await run(['cert', 'init', '--config-dir', configDir]);
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, /created a new CA and server certificate/);
  const doctor = await run(['doctor', '--json', '--config-dir', configDir, '--port', '1']);
  const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ id: string; state: string }> }).checks;
  t.match(checks.find((c) => c.id === 'certificate'), { state: 'pass' });
  t.match(checks.find((c) => c.id === 'card'), { state: 'pass' }, 'doctor reads the card too');
});

t.test('serve: the pages from html/ beside it, GetBasic over wss, our files in its stacks', async (t) => {
  // Captures a stack inside the service as it creates its HTTPS server: the
  // same frames a logged error would show.
  const stackFile = path.join(work, 'stack.txt');
  const probe = path.join(work, 'probe.cjs');
  fs.writeFileSync(
    probe,
    `const https = require('node:https'); const create = https.createServer;
https.createServer = function (...args) { require('node:fs').writeFileSync(${JSON.stringify(stackFile)}, new Error('probe').stack); return create.apply(this, args); };`,
  );
  const child = spawn(NODE, ['--require', probe, cli, 'serve', '--port', '0', '--config-dir', configDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill());
  const port = await new Promise<number>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /"127\.0\.0\.1:(\d+)"/.exec(line);
      if (m && line.includes('nhiicc listening')) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  const get = (p: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: p, ca, servername: 'iccert.nhi.gov.tw', headers: { host: `iccert.nhi.gov.tw:${port}` } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
  const home = await get('/');
  t.equal(home.status, 200);
  t.match(home.body, /已確認為可信任服務/);
  const page = await get('/ESample.html');
  t.equal(page.status, 200, 'ESample.html is found beside the bundle');
  t.equal(page.body, fs.readFileSync(path.join(REPO, 'html', 'ESample.html'), 'utf8'));

  const ws = await openSocket(port, ca);
  t.teardown(() => ws.close());
  t.equal(await ask(ws, 'GetBasic'), `GetBasic:${expectedBasic(hkscs)}`);

  const frames = fs.readFileSync(stackFile, 'utf8').split('\n').slice(1);
  const ours = frames.filter((f) => /[/\\]src[/\\][\w/\\-]+\.ts:\d+:\d+\)?$/.test(f));
  t.ok(ours.some((f) => f.includes(path.join('src', 'server', 'app.ts'))), 'the frame of buildApp names src/server/app.ts', { frames });
  for (const f of ours) {
    const file = /\(?([^ (]+\.ts):\d+:\d+\)?$/.exec(f)?.[1];
    t.ok(file && fs.existsSync(file), `${file} is this checkout's file`);
  }
  t.notOk(frames.some((f) => /main\.mjs/.test(f) && /src\//.test(f)), 'no frame names both');
});
