// Builds dist/installers/nhiicc-<version>-x64.msi from nhiicc.wxs.
//
// Toolchain: WiX v3 (candle/light) when it is on PATH (Windows CI), else
// msitools' wixl (Debian: apt-get install wixl). The service is the bundled
// node.exe running the app (nhiicc.wxs): nothing is compiled.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SERVICE_NAME } from '../../src/windows-service/controller.js';
import { INSTALLERS_DIR } from '../node-runtime.js';
import { appInfo, BUILD_DIR, log, OUT_DIR, stage } from '../stage.js';
import { dataFolderSddl, logsFolderSddl } from './acl.js';

const WIN = path.join(INSTALLERS_DIR, 'windows');

function onPath(cmd: string): boolean {
  const probe = process.platform === 'win32' ? spawnSync('where', [cmd]) : spawnSync('sh', ['-c', `command -v ${cmd}`]);
  return probe.status === 0;
}

const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * What nhiicc.wxs says and wixl 0.101 does not write, for msibuild: the
 * service's Vital flag (msidbServiceInstallErrorControlVital: the
 * installation fails if the service cannot be installed), and the
 * ProgramData folders' ACLs (PermissionEx: MsiLockPermissionsEx rows).
 */
function wixlFixes(sddl: Record<string, string>): string[] {
  return [
    "UPDATE `ServiceInstall` SET `ErrorControl` = 32769 WHERE `ServiceInstall` = 'NhiiccService'",
    'CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, `LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` LONGCHAR NOT NULL, `Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)',
    ...Object.entries(sddl).map(
      ([dir, text]) => `INSERT INTO \`MsiLockPermissionsEx\` (\`MsiLockPermissionsEx\`, \`LockObject\`, \`Table\`, \`SDDLText\`) VALUES (${sql(`${dir}Acl`)}, ${sql(dir)}, 'CreateFolder', ${sql(text)})`,
    ),
  ];
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** files.wxs: one component per file under app/, for ComponentGroup AppFiles. */
function filesFragment(appDir: string, out: string): number {
  let n = 0;
  const components: string[] = [];
  const dirXml = (dir: string, depth: number): string => {
    const pad = '  '.repeat(depth);
    let s = '';
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        s += `${pad}<Directory Id="d${n++}" Name="${xml(e.name)}">\n${dirXml(p, depth + 1)}${pad}</Directory>\n`;
      } else if (e.isFile()) {
        const id = `f${n++}`;
        components.push(id);
        s += `${pad}<Component Id="c${id}" Guid="*" Win64="yes"><File Id="${id}" Name="${xml(e.name)}" Source="${xml(path.relative(path.dirname(out), p))}" KeyPath="yes" /></Component>\n`;
      }
    }
    return s;
  };
  const tree = dirXml(appDir, 3);
  fs.writeFileSync(
    out,
    `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Fragment>
    <DirectoryRef Id="AppDir">
${tree}    </DirectoryRef>
  </Fragment>
  <Fragment>
    <ComponentGroup Id="AppFiles">
${components.map((id) => `      <ComponentRef Id="c${id}" />`).join('\n')}
    </ComponentGroup>
  </Fragment>
</Wix>
`,
  );
  return components.length;
}

/** The .msi for win-x64 (npm has no Node 24 for win-arm64). */
export async function buildMsi(): Promise<string> {
  const info = appInfo();
  const staged = await stage('msi', 'win-x64');
  const work = path.join(BUILD_DIR, 'msi-win-x64');
  fs.mkdirSync(work, { recursive: true });
  const files = path.join(work, 'files.wxs');
  const count = filesFragment(staged.app, files);
  log(`${count} app files in ${path.relative(process.cwd(), files)}`);

  const sddl = { DataDir: dataFolderSddl(SERVICE_NAME), LogsDir: logsFolderSddl(SERVICE_NAME) };
  const vars = {
    Version: info.version,
    NodeExe: staged.node,
    SetupMjs: path.join(WIN, 'setup.mjs'),
  };
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const out = path.join(OUT_DIR, `${info.name}-${info.version}-x64.msi`);
  for (const stale of fs.readdirSync(OUT_DIR).filter((f) => f.endsWith('.msi'))) fs.rmSync(path.join(OUT_DIR, stale));
  const defines = (flag: string, extra: Record<string, string>) => Object.entries({ ...vars, ...extra }).map(([k, v]) => `${flag}${k}=${v}`);

  if (onPath('candle') && onPath('light')) {
    log('WiX v3: candle + light');
    const objs = path.join(work, 'obj') + path.sep;
    execFileSync('candle', ['-nologo', '-arch', 'x64', ...defines('-d', { WIXL: '0', DataSddl: sddl.DataDir, LogsSddl: sddl.LogsDir }), '-out', objs, path.join(WIN, 'nhiicc.wxs'), files], { stdio: 'inherit' });
    execFileSync('light', ['-nologo', '-sval', '-out', out, path.join(objs, 'nhiicc.wixobj'), path.join(objs, 'files.wixobj')], { stdio: 'inherit' });
  } else if (onPath('wixl')) {
    log('msitools wixl');
    // wixl only takes Source paths relative to the .wxs, so everything is
    // copied next to files.wxs and named relatively.
    fs.copyFileSync(path.join(WIN, 'nhiicc.wxs'), path.join(work, 'nhiicc.wxs'));
    const rel = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, k === 'Version' ? v : path.relative(work, v)]));
    const args = Object.entries({ ...rel, WIXL: '1' }).flatMap(([k, v]) => ['-D', `${k}=${v}`]);
    execFileSync('wixl', ['-a', 'x64', ...args, '-o', out, 'nhiicc.wxs', 'files.wxs'], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
    for (const query of wixlFixes(sddl)) execFileSync('msibuild', [out, '-q', query], { stdio: 'inherit' });
  } else {
    throw new Error('no MSI toolchain: WiX v3 (candle, light) on Windows, or wixl (apt-get install wixl)');
  }
  return out;
}
