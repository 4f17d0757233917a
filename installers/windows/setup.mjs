// Windows install/uninstall steps, run by the MSI's deferred custom actions
// with the bundled node.exe (nhiicc.wxs):
//   node setup.mjs install             after files are in place, before the service starts
//   node setup.mjs doctor              after the service started; never fails
//   node setup.mjs uninstall [--purge] after the service was removed
// The service itself (node.exe running app\nhiicc.mjs serve --windows-service)
// and the ProgramData folders with their ACLs are installed, started, stopped
// and removed by the MSI; this sets what Windows Installer cannot: the
// service's recovery.
// Windows Installer keeps no output of these steps: they also go to
// %ProgramData%\nhiicc\setup.log.
import { spawnSync } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const install = path.resolve(dir, '..');
const node = path.join(install, 'node', 'node.exe');
const cli = path.join(install, 'app', 'nhiicc.mjs');
const configDir = path.join(process.env.ProgramData ?? 'C:\\ProgramData', 'nhiicc');
const NAME = 'iccert.nhi.gov.tw';

const setupLog = path.join(configDir, 'setup.log');
// A custom action's stdout leads nowhere; under Wine writing to it fails
// later, asynchronously, which would end the steps half-way.
process.stdout.on('error', () => {});
function record(text) {
  process.stdout.write(text);
  try {
    fs.mkdirSync(path.dirname(setupLog), { recursive: true });
    fs.appendFileSync(setupLog, text);
  } catch {
    // The log is a convenience; a step never fails over it.
  }
}
const say = (msg) => record(`nhiicc: ${msg}\n`);
const warn = (msg) => record(`nhiicc: WARNING: ${msg}\n`);
function nhiicc(...args) {
  const r = spawnSync(node, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NHIICC_CONFIG_DIR: configDir } });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out) record(`${out.replace(/^/gm, '    ')}\n`);
  return r.status === 0;
}

function checkOfficial() {
  const q = spawnSync('sc.exe', ['query', 'mNHIICC'], { encoding: 'utf8' });
  if (q.status !== 0) return;
  warn('the official NHI card component (健保卡元件) is installed: Windows service mNHIICC');
  warn('it also listens on port 7777. Remove it in Settings > Apps ("健保卡元件" / mNHIICC), or: sc.exe stop mNHIICC && sc.exe delete mNHIICC');
  warn('then restart nhiicc: sc.exe start nhiicc');
}

async function doInstall() {
  say(`install (${new Date().toISOString()})`);
  checkOfficial();
  say(`1/6 files in place: ${install}`);
  // The MSI made configDir: SYSTEM and administrators only, and the
  // service's account NT SERVICE\nhiicc may read (the key included).
  if (nhiicc('cert', 'init')) say(`2/6 certificate: ready in ${configDir}`);
  else warn('2/6 certificate: `nhiicc cert init` failed');
  if (nhiicc('cert', 'install')) say('3/6 trust: the Windows Root store trusts the nhiicc CA');
  else warn('3/6 trust: `nhiicc cert install` failed');
  const resolved = await dns.lookup(NAME, { all: true }).catch(() => []);
  if (resolved.some((a) => a.address === '127.0.0.1')) say(`4/6 hosts: ${NAME} already resolves to 127.0.0.1, hosts file left alone`);
  else if (nhiicc('hosts', 'install')) say(`4/6 hosts: added 127.0.0.1 ${NAME} to the hosts file`);
  else warn(`4/6 hosts: \`nhiicc hosts install\` failed; add "127.0.0.1 ${NAME}" to C:\\Windows\\System32\\drivers\\etc\\hosts`);
  say(`5/6 service: Windows Installer now installs and starts the service "nhiicc": "${node}" "${cli}" serve --windows-service, as NT SERVICE\\nhiicc, logging to ${path.join(configDir, 'logs', 'nhiicc.log')}`);
}

/** sc.exe with arguments; true when it succeeded, else a warning says so. */
function sc(...args) {
  const r = spawnSync('sc.exe', args, { encoding: 'utf8' });
  if (r.status === 0) return true;
  const said = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  warn(`sc.exe ${args.join(' ')} failed (${r.error?.code ?? `exit ${r.status}`})${said ? `: ${said}` : ''}`);
  return false;
}

function doDoctor() {
  // Recovery, set here for both MSI builds: Windows Installer's own
  // MsiServiceConfigFailureActions is documented not to work as expected.
  // Restart after 5 s, 5 s, then 30 s; the count starts again after a day
  // without failure. The failure flag extends it to a service that reports
  // STOPPED with an error exit code (its state machine does so when serving
  // fails) rather than crashing.
  const actions = sc('failure', 'nhiicc', 'reset=', '86400', 'actions=', 'restart/5000/restart/5000/restart/30000');
  const flag = sc('failureflag', 'nhiicc', '1');
  if (actions && flag) say('service recovery: restart after 5 s, 5 s, then 30 s (counted again after a day), also when it stops with an error');
  else if (actions) say('service recovery: restart after 5 s, 5 s, then 30 s (counted again after a day) when it crashes');
  say('6/6 doctor:');
  if (!nhiicc('doctor')) say('    (doctor reported problems above; the installation itself is complete)');
}

function doUninstall(purge) {
  say(`uninstall (${new Date().toISOString()})`);
  say('1/4 service: "nhiicc" stopped and removed by Windows Installer');
  if (nhiicc('cert', 'uninstall')) say('2/4 trust: nhiicc CA removed');
  else warn('2/4 trust: `nhiicc cert uninstall` failed');
  if (nhiicc('hosts', 'uninstall')) say("3/4 hosts: nhiicc's line removed from the hosts file (if it was there)");
  else warn('3/4 hosts: `nhiicc hosts uninstall` failed');
  say('4/4 files: Windows Installer removes the program folder');
  if (purge) {
    // Said first: the log goes with the folder.
    say(`purge: removing ${configDir}`);
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

const [cmd, ...flags] = process.argv.slice(2);
try {
  if (cmd === 'install') await doInstall();
  else if (cmd === 'doctor') doDoctor();
  else if (cmd === 'uninstall') doUninstall(flags.includes('--purge'));
  else {
    process.stderr.write('usage: setup.mjs install|doctor|uninstall [--purge]\n');
    process.exitCode = 2;
  }
} catch (err) {
  // A failed step is reported, never a failed (rolled back) installation.
  warn(String(err?.stack ?? err));
}
