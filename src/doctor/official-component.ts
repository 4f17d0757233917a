import fs from 'node:fs/promises';
import path from 'node:path';
import { LAUNCHD_LABEL } from '../config/names.js';
import type { Runner } from '../util/runner.js';
import { type Check, failed, passed } from './check.js';

export const OFFICIAL_SHARE = '/usr/local/share/NHIICC';
/** What our own packages put in OFFICIAL_SHARE (the manuals send users to html/ESample.html). */
const OURS = new Set(['html', 'html/ESample.html', 'html/esample.js']);

export interface FileSystemView {
  exists(file: string): Promise<boolean>;
  /** Entry names, or [] when the folder is missing. */
  list(dir: string): Promise<string[]>;
}

export const realFiles: FileSystemView = {
  exists: (file) => fs.access(file).then(() => true, () => false),
  list: (dir) => fs.readdir(dir).catch(() => []),
};

export interface OfficialDeps {
  platform: NodeJS.Platform;
  runner: Runner;
  files: FileSystemView;
}

/** Traces of the official component, each as a short phrase. */
export async function findOfficialComponent(deps: OfficialDeps): Promise<string[]> {
  const { platform, runner, files } = deps;
  const found: string[] = [];
  if (platform === 'win32') {
    const r = await runner('sc.exe', ['query', 'mNHIICC']);
    // sc.exe exits 1060 (service does not exist) when it is not installed.
    if (r.code === 0) found.push(/STATE\s*:\s*4\b/.test(r.stdout) ? 'Windows service mNHIICC (running)' : 'Windows service mNHIICC');
    return found;
  }
  if (await files.exists(path.posix.join(OFFICIAL_SHARE, 'mLNHIICC'))) found.push(path.posix.join(OFFICIAL_SHARE, 'mLNHIICC'));
  for (const sub of ['', 'html']) {
    for (const name of await files.list(path.posix.join(OFFICIAL_SHARE, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      if (!OURS.has(rel) && rel !== 'mLNHIICC') found.push(path.posix.join(OFFICIAL_SHARE, rel));
    }
  }
  if (platform === 'darwin') {
    for (const dir of ['/Library/LaunchDaemons', '/Library/LaunchAgents']) {
      for (const name of await files.list(dir)) {
        if (/nhiicc/i.test(name) && name !== `${LAUNCHD_LABEL}.plist`) found.push(path.posix.join(dir, name));
      }
    }
  }
  const running = await runner('pgrep', ['-x', 'mLNHIICC']);
  if (running.code === 0) {
    const pids = running.stdout.trim().split(/\s+/).filter(Boolean);
    found.push(`running process mLNHIICC${pids.length ? ` (pid ${pids.join(', ')})` : ''}`);
  }
  return found;
}

/** `official-component`: the official 健保卡元件 wants the same port; only one can run. */
export function officialComponentCheck(found: string[], platform: NodeJS.Platform): Check {
  const id = 'official-component';
  if (found.length === 0) return passed(id, 'the official NHI card component (mLNHIICC/mNHIICC) is not installed');
  return failed(id, `the official NHI card component (健保卡元件) is installed: ${found.join(', ')}`, removalSteps(platform), { found });
}

function removalSteps(platform: NodeJS.Platform): string {
  if (platform === 'win32') {
    return 'remove it in Settings > Apps ("健保卡元件" / mNHIICC), or from an elevated prompt: `sc.exe stop mNHIICC` then `sc.exe delete mNHIICC`; then `sc.exe start nhiicc`';
  }
  if (platform === 'darwin') {
    return `for each file above in /Library/LaunchDaemons or LaunchAgents: \`sudo launchctl bootout system/<its label>\` and delete it; delete ${OFFICIAL_SHARE} except html/ESample.html and html/esample.js (nhiicc's); then \`sudo launchctl kickstart -k system/${LAUNCHD_LABEL}\``;
  }
  return [
    '`sudo pkill -x mLNHIICC` (stop it);',
    '`sudo ./UnInstall` in the mLNHIICC_Setup folder it was installed from, or `sudo dpkg -r mlnhiicc` / `sudo rpm -e mLNHIICC` if it came as a package;',
    `\`sudo rm -rf ${OFFICIAL_SHARE}/mLNHIICC ${OFFICIAL_SHARE}/ReStart_NHIICC.sh\` (what is left);`,
    'then `sudo systemctl restart nhiicc`',
  ].join(' ');
}
