// The .pkg's install step (installers/macos/nhiicc-setup), run for real with
// its folders moved into a scratch directory and the macOS commands it calls
// replaced by recorders: who is asked to confirm trust, and that a trust step
// that does not finish never stops the installation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { REPO, run } from './helpers.js';

const SCRIPT = path.join(REPO, 'installers', 'macos', 'nhiicc-setup');

interface Case {
  commandLine: boolean;
  installerRunning: boolean;
  /** Exit code of `nhiicc cert install`. */
  trust: number;
}

function runInstall(t: { teardown(fn: () => unknown): void }, c: Case) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-macsetup-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const calls = path.join(root, 'calls');
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  const stub = (name: string, body = '') => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${calls}"\n${body}\nexit 0\n`, { mode: 0o755 });
  for (const name of ['dscl', 'chown', 'chgrp', 'launchctl', 'dscacheutil', 'sleep', 'pkgutil']) stub(name);
  stub('pgrep', `[ "$2" = Installer ] && exit ${c.installerRunning ? 0 : 1}\nexit 1`);
  const prefix = path.join(root, 'prefix');
  fs.mkdirSync(path.join(prefix, 'bin'), { recursive: true });
  // The bundled node: answers --version, records the nhiicc command it is given.
  fs.writeFileSync(
    path.join(prefix, 'bin', 'node'),
    `#!/bin/sh\n[ "$1" = --version ] && { echo v20.20.2; exit 0; }\nshift\necho "nhiicc $*" >> "${calls}"\ncase "$1 $2" in\n  "cert install") echo "macOS trust settings: alice: not asked now: confirmation pending: alice is asked at their next login"; echo "nhiicc: install incomplete: macos-keychain: confirmation pending (see above)" >&2; exit ${c.trust} ;;\nesac\nexit 0\n`,
    { mode: 0o755 },
  );
  const script = fs
    .readFileSync(SCRIPT, 'utf8')
    .replace(/^PREFIX=.*$/m, `PREFIX="${prefix}"`)
    .replace(/^CONFIG_DIR=.*$/m, `CONFIG_DIR="${root}/config"`)
    .replace(/^PLIST=.*$/m, `PLIST="${root}/tw.nhiicc.plist"`)
    .replace(/^LOG_DIR=.*$/m, `LOG_DIR="${root}/logs"`)
    .replace(/^SHARE=.*$/m, `SHARE="${root}/share"`);
  fs.writeFileSync(path.join(root, 'nhiicc-setup'), script, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:/usr/bin:/bin`, ...(c.commandLine ? { COMMAND_LINE_INSTALL: '1' } : {}) };
  const r = run('sh', [path.join(root, 'nhiicc-setup'), 'install'], env);
  return { ...r, calls: fs.readFileSync(calls, 'utf8').trim().split('\n') };
}

t.test('a double-clicked package asks the user at the screen; a command-line install asks nobody now', async (t) => {
  const gui = runInstall(t, { commandLine: false, installerRunning: true, trust: 0 });
  t.equal(gui.status, 0, gui.stderr);
  t.ok(gui.calls.includes('nhiicc cert install --prompt unless-declined'));
  t.match(gui.stdout, /nhiicc: 4\/7 trust: the user at the screen is asked to confirm with their login password \(a macOS dialog; this step waits for it\)\n/);
  t.match(gui.stdout, /nhiicc: 4\/7 trust: in place for the user at the screen/);

  const cli = runInstall(t, { commandLine: true, installerRunning: true, trust: 0 });
  t.ok(cli.calls.includes('nhiicc cert install --prompt never'), '`installer -pkg` on a command line');
  t.match(cli.stdout, /4\/7 trust: command-line install: nobody is asked now; each user confirms with their login password at their next login/);

  const mdm = runInstall(t, { commandLine: false, installerRunning: false, trust: 0 });
  t.ok(mdm.calls.includes('nhiicc cert install --prompt never'), 'no Installer app: an MDM agent, nobody clicked');
});

t.test('trust that is not in place yet never stops the installation', async (t) => {
  const r = runInstall(t, { commandLine: true, installerRunning: false, trust: 1 });
  t.equal(r.status, 0);
  t.match(r.stdout, /confirmation pending: alice is asked at their next login/);
  t.match(r.stderr, /nhiicc: WARNING: 4\/7 trust: NOT in place yet \(see above\): browsers warn about nhiicc's certificate until it is confirmed; the installation continues/);
  t.match(r.stdout, /5\/7 hosts[\s\S]*6\/7 service[\s\S]*7\/7 doctor/, 'the later steps run');
  t.ok(r.calls.some((l) => l.startsWith('launchctl bootstrap system ')), 'the service is started');
});
