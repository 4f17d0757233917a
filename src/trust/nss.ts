import fs from 'node:fs/promises';
import path from 'node:path';
import { COMMAND_NOT_FOUND, runChecked } from '../util/runner.js';
import { emptyChange, fingerprintPrefix, type CaInfo, type TrustContext, type TrustPlace, type TrustRecord, type TrustStore } from './trust-store.js';
import { exists } from '../util/files.js';

export const NSS_STORE = 'nss';

/** Where Chromium-family browsers keep their NSS database, relative to a home folder. */
const SHARED_DBS = ['.pki/nssdb', 'snap/chromium/current/.pki/nssdb'];

/** Folders whose subfolders are Firefox profiles, each with its own database. */
const FIREFOX_PROFILE_PARENTS = [
  '.mozilla/firefox',
  'snap/firefox/common/.mozilla/firefox',
  'Library/Application Support/Firefox/Profiles',
  'AppData/Roaming/Mozilla/Firefox/Profiles',
];

/** The nickname carries the fingerprint so uninstall touches only our own CA. */
export function nssNickname(ca: Pick<CaInfo, 'sha256'>): string {
  return `nhiicc local CA ${fingerprintPrefix(ca)}`;
}

/**
 * Every NSS database under the given homes, as certutil `-d` arguments.
 * Only existing databases: creating one in someone's home would leave a
 * root-owned file the browser cannot open.
 */
export async function findNssDatabases(homeDirs: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const dirs: string[] = [];
  for (const home of homeDirs) {
    for (const rel of SHARED_DBS) dirs.push(path.join(home, rel));
    for (const rel of FIREFOX_PROFILE_PARENTS) dirs.push(...(await subdirectories(path.join(home, rel))));
  }
  if (env.APPDATA) dirs.push(...(await subdirectories(path.join(env.APPDATA, 'Mozilla', 'Firefox', 'Profiles'))));
  const found: string[] = [];
  for (const dir of new Set(dirs)) {
    if (await exists(path.join(dir, 'cert9.db'))) found.push(`sql:${dir}`);
    else if (await exists(path.join(dir, 'cert8.db'))) found.push(`dbm:${dir}`);
  }
  return found;
}

const NOT_CONFIGURED = { why: 'NSS certutil not configured', fix: 'set NHIICC_NSS_CERTUTIL to NSS certutil.exe' };
const NOT_INSTALLED = { why: 'NSS certutil is not installed', fix: 'install it (Debian/Ubuntu: `sudo apt install libnss3-tools`)' };

export interface NssOptions {
  /** NSS certutil; on Windows the name clashes with the system tool, so it must be given. */
  certutil?: string;
}

export function nssStore(ctx: TrustContext, options: NssOptions = {}): TrustStore {
  const certutil = options.certutil ?? ctx.env.NHIICC_NSS_CERTUTIL ?? (ctx.platform === 'win32' ? undefined : 'certutil');
  const label = 'browser NSS databases (Firefox, Chromium)';
  const databases = () => findNssDatabases(ctx.homeDirs, ctx.platform === 'win32' ? ctx.env : {});
  const has = async (db: string, nickname: string) => (await ctx.runner(certutil!, ['-L', '-d', db, '-n', nickname])).code === 0;

  return {
    name: NSS_STORE,
    label,
    async available() {
      // Firefox on macOS follows the keychain's trust settings instead (darwin-firefox.ts).
      if (ctx.platform === 'darwin' || !certutil || (await databases()).length === 0) return false;
      // NSS certutil prints usage and exits 1 on an unknown flag; only a missing program gives 127.
      return (await ctx.runner(certutil, ['--version'])).code !== COMMAND_NOT_FOUND;
    },

    async install(ca) {
      const change = emptyChange(NSS_STORE);
      const nickname = nssNickname(ca);
      for (const db of await databases()) {
        const record: TrustRecord = { store: NSS_STORE, location: db, name: nickname };
        if (await has(db, nickname)) {
          change.added.push(record);
          change.notes.push(`${db}: already trusts the CA`);
          continue;
        }
        // C,, = trusted to issue TLS server certificates, nothing else.
        const result = await ctx.runner(certutil!, ['-A', '-d', db, '-t', 'C,,', '-n', nickname, '-i', ca.file]);
        if (result.code !== 0) {
          change.status = 'failed';
          change.notes.push(`${db}: could not add the CA: ${firstLine(result.stderr || result.stdout)}`);
          continue;
        }
        change.added.push(record);
        if (change.status === 'unchanged') change.status = 'changed';
        change.notes.push(`${db}: added "${nickname}"`);
      }
      return change;
    },

    async uninstall(ca, records) {
      const change = emptyChange(NSS_STORE);
      const targets = records
        ? records.filter((r) => r.store === NSS_STORE)
        : (await databases()).map((db) => ({ store: NSS_STORE, location: db, name: nssNickname(ca) }));
      for (const record of targets) {
        const nickname = record.name ?? nssNickname(ca);
        if (!(await has(record.location, nickname))) continue;
        await runChecked(ctx.runner, certutil!, ['-D', '-d', record.location, '-n', nickname]);
        change.removed.push(record);
        change.status = 'changed';
        change.notes.push(`${record.location}: removed "${nickname}"`);
      }
      if (change.removed.length === 0) change.notes.push(`${label}: nothing of ours to remove`);
      return change;
    },

    async trustedIn(ca) {
      const dbs = await databases();
      if (!certutil) return dbs.map((location) => ({ location, trusted: false, unchecked: NOT_CONFIGURED }));
      const places: TrustPlace[] = [];
      for (const location of dbs) {
        const listed = await ctx.runner(certutil, ['-L', '-d', location, '-n', nssNickname(ca)]);
        places.push(listed.code === COMMAND_NOT_FOUND ? { location, trusted: false, unchecked: NOT_INSTALLED } : { location, trusted: listed.code === 0 });
      }
      return places;
    },
  };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

