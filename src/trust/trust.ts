import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CA_FILE } from '../tls/certificates.js';
import { isRoot } from '../util/is-root.js';
import { darwinStore } from './darwin.js';
import { firefoxMacStore } from './darwin-firefox.js';
import { linuxSystemStore } from './linux.js';
import { nssStore } from './nss.js';
import { runCommand } from '../util/runner.js';
import { caInfo, type CaInfo, type Change, isTrusted, type TrustContext, type TrustStore } from './trust-store.js';
import { readTrustState, sameRecord, writeTrustState, type TrustedCa } from './trust-state.js';
import { windowsStore } from './windows.js';

export interface TrustOptions {
  context?: Partial<TrustContext>;
  /** Replaces the stores chosen for the platform (tests). */
  stores?: TrustStore[];
}

export interface StoreStatus {
  store: string;
  label: string;
  available: boolean;
  trusted: boolean;
}

export function defaultTrustContext(overrides: Partial<TrustContext> = {}): TrustContext {
  const platform = overrides.platform ?? process.platform;
  const root = overrides.isRoot ?? isRoot();
  return {
    runner: overrides.runner ?? runCommand,
    platform,
    isRoot: root,
    env: overrides.env ?? process.env,
    homeDirs: overrides.homeDirs ?? defaultHomeDirs(platform, root),
    ...(overrides.prompt ? { prompt: overrides.prompt } : {}),
    ...(overrides.selfCommand ? { selfCommand: overrides.selfCommand } : {}),
    ...(overrides.say ? { say: overrides.say } : {}),
  };
}

/**
 * Root installs for everyone: browsers keep their own NSS database in each
 * user's home, so an admin running `sudo nhiicc cert install` means all users.
 */
export function defaultHomeDirs(platform: NodeJS.Platform, isRoot: boolean): string[] {
  const homes = [os.homedir()];
  const parent = platform === 'darwin' ? '/Users' : platform === 'win32' ? undefined : '/home';
  if (isRoot && parent) {
    try {
      for (const entry of homeFolderNames(parent)) homes.push(path.join(parent, entry));
    } catch {
      // No such folder: only the current home.
    }
  }
  return [...new Set(homes)];
}

function homeFolderNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'Shared')
    .map((e) => e.name);
}

export function storesFor(ctx: TrustContext): TrustStore[] {
  return [linuxSystemStore(ctx), nssStore(ctx), darwinStore(ctx), firefoxMacStore(ctx), windowsStore(ctx)];
}

/** Makes every available store trust the CA in `dir` and only that one of ours. */
export async function installTrust(dir: string, options: TrustOptions = {}): Promise<Change[]> {
  const { stores } = resolve(options);
  const current = await currentCa(dir);
  const state = await readTrustState(dir);
  const changes: Change[] = [];
  // A CA we trusted before a renewal is useless now and only widens trust: remove it first.
  for (const old of state.cas.filter((ca) => ca.sha256 !== current.sha256)) {
    changes.push(...(await removeRecorded(dir, old, stores)));
  }
  let entry = state.cas.find((ca) => ca.sha256 === current.sha256);
  if (!entry) {
    entry = { sha256: current.sha256, pem: current.pem, records: [] };
    state.cas.push(entry);
  }
  for (const store of stores) {
    if (!(await store.available())) continue;
    const change = await safely(store, () => store.install(current));
    for (const record of change.added) {
      if (!entry.records.some((r) => sameRecord(r, record))) entry.records.push(record);
    }
    changes.push(change);
  }
  await writeTrustState(dir, state);
  return changes;
}

/** Removes from every store what our installs added, and nothing else. */
export async function uninstallTrust(dir: string, options: TrustOptions = {}): Promise<Change[]> {
  const { stores } = resolve(options);
  const state = await readTrustState(dir);
  const changes: Change[] = [];
  if (state.cas.length === 0) {
    // No record (deleted, or installed by an older version): fall back to
    // entries named after the current CA's fingerprint, which only we create.
    const current = await currentCa(dir).catch(() => undefined);
    if (!current) return changes;
    for (const store of stores) {
      if (!(await store.available())) continue;
      changes.push(await safely(store, () => store.uninstall(current)));
    }
    return changes;
  }
  for (const ca of state.cas) changes.push(...(await removeRecorded(dir, ca, stores)));
  await writeTrustState(dir, state);
  return changes;
}

export async function trustStatus(dir: string, options: TrustOptions = {}): Promise<StoreStatus[]> {
  const { stores } = resolve(options);
  const current = await currentCa(dir);
  const result: StoreStatus[] = [];
  for (const store of stores) {
    const available = await store.available();
    result.push({
      store: store.name,
      label: store.label,
      available,
      trusted: available && (await isTrusted(store, current).catch(() => false)),
    });
  }
  return result;
}

/** Uninstalls one recorded CA; records that could not be removed stay in `ca`. */
async function removeRecorded(dir: string, ca: TrustedCa, stores: TrustStore[]): Promise<Change[]> {
  const changes: Change[] = [];
  await withCaFile(dir, ca.pem, async (info) => {
    for (const store of stores) {
      const records = ca.records.filter((r) => r.store === store.name);
      if (records.length === 0) continue;
      const change = await safely(store, () => store.uninstall(info, records));
      changes.push(change);
      if (change.status === 'changed' || change.status === 'unchanged') {
        ca.records = ca.records.filter((r) => r.store !== store.name);
      }
    }
  });
  return changes;
}

/** Tools like `security` want a file; an old CA's only copy is in the state. */
async function withCaFile(dir: string, pem: string, fn: (ca: CaInfo) => Promise<void>): Promise<void> {
  const file = path.join(dir, CA_FILE);
  const onDisk = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (onDisk === pem) return fn(caInfo(pem, file));
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-old-ca-'));
  try {
    const tmpFile = path.join(tmp, CA_FILE);
    await fs.writeFile(tmpFile, pem);
    await fn(caInfo(pem, tmpFile));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function currentCa(dir: string): Promise<CaInfo> {
  const file = path.join(dir, CA_FILE);
  let pem: string;
  try {
    pem = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no CA certificate at ${file}; run \`nhiicc cert init\` first`);
    throw err;
  }
  return caInfo(pem, file);
}

/** One store failing must not stop the others or lose their records. */
async function safely(store: TrustStore, fn: () => Promise<Change>): Promise<Change> {
  try {
    return await fn();
  } catch (err) {
    return {
      store: store.name,
      status: 'failed',
      added: [],
      removed: [],
      notes: [`${store.label}: ${err instanceof Error ? err.message : String(err)}`],
    };
  }
}

function resolve(options: TrustOptions): { ctx: TrustContext; stores: TrustStore[] } {
  const ctx = defaultTrustContext(options.context);
  return { ctx, stores: options.stores ?? storesFor(ctx) };
}
