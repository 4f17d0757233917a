// Windows, proven on Linux: the .msi that `npm run package -- msi` builds is
// installed by Wine's msiexec in a Debian 13 chroot (Wine 10, whose
// winscard.dll forwards to pcsc-lite); the service it installs (its own
// node.exe under Wine's service control manager) reads the virtual card and
// serves it over wss, stops and starts, also with its main thread blocked,
// and is removed with the package. Only this file's preparation runs
// here (the root filesystem and the .msi need the network); the test itself
// runs in new mount, network and pid namespaces (windows-msi.in-namespace.ts),
// so it never sees the host's pcscd, ports or mounts, and whatever it
// started ends with it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tap, { type Test } from 'tap';
import { have, REPO } from '../installers/helpers.js';
import { ensureRootfs } from '../rootfs/rootfs.js';
import { WINE_ROOTFS } from './wine-bed.js';

const INNER = path.join(import.meta.dirname, 'windows-msi.in-namespace.ts');
/** The whole Windows test, once the root filesystem exists. */
const BUDGET_MS = 300_000;

const missing = (() => {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap, namespaces, mounts)';
  for (const tool of ['mmdebstrap', 'unshare', 'wixl', 'msibuild', 'ip']) if (!have(tool)) return `${tool} missing (test/run.sh installs it)`;
  return undefined;
})();

function timed<T>(t: Test, what: string, step: () => T): T {
  const started = Date.now();
  try {
    return step();
  } finally {
    t.comment(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

tap.test('the Windows .msi under Wine: install, the service serves over wss, idle CPU, card out and in, stop and start, blocked main thread, uninstall', { skip: missing }, async (t) => {
  // Making the root filesystem (once) may take minutes; the budget (this
  // file's whole timeout, so the runner's too) starts after it.
  tap.setTimeout(BUDGET_MS + 900_000);
  const rootfs = timed(t, `Debian 13 root filesystem with ${WINE_ROOTFS.include.join(', ')}`, () => ensureRootfs(WINE_ROOTFS));
  tap.setTimeout(BUDGET_MS);
  const started = Date.now();

  const built = timed(t, 'npm run package -- msi', () =>
    spawnSync('npm', ['run', '--silent', 'package', '--', 'msi'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
  );
  const msi = built.stdout.trim().split('\n').at(-1) ?? '';
  if (built.status !== 0 || !msi.endsWith('.msi')) throw new Error(`npm run package -- msi failed (${built.status}): ${built.stderr.slice(-2000)}`);
  t.comment(`${path.relative(REPO, msi)}: ${(fs.statSync(msi).size / 1e6).toFixed(1)} MB`);

  await t.spawn(
    'unshare',
    // --kill-child: the namespaces' first process, and with it all the rest, ends with unshare.
    ['--mount', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', process.execPath, ...process.execArgv, INNER],
    { env: { ...process.env, NHIICC_WINE_ROOTFS: rootfs, NHIICC_WINE_MSI: msi }, timeout: BUDGET_MS - (Date.now() - started) },
    'in its own mount, network and pid namespaces',
  );
  t.comment(`the Windows test took ${((Date.now() - started) / 1000).toFixed(0)} s after the root filesystem (budget ${BUDGET_MS / 1000} s)`);
});
