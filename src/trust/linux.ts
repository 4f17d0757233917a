import fs from 'node:fs/promises';
import path from 'node:path';
import { runChecked } from '../util/runner.js';
import { emptyChange, fingerprintPrefix, type CaInfo, type Change, type TrustContext, type TrustStore } from './trust-store.js';
import { exists, readIfExists } from '../util/files.js';

/** One distribution family's way of adding a system-wide root. */
export interface SystemAnchorLayout {
  family: string;
  anchorDir: string;
  extension: string;
  refresh: [cmd: string, args: string[]];
  /** When plain refresh leaves links to a removed file behind. */
  refreshAfterRemove?: [cmd: string, args: string[]];
  /** The bundle the refresh command regenerates, to check the outcome. */
  bundle: string;
}

export const LINUX_LAYOUTS: SystemAnchorLayout[] = [
  {
    family: 'Debian/Ubuntu',
    anchorDir: '/usr/local/share/ca-certificates',
    extension: '.crt',
    refresh: ['update-ca-certificates', []],
    // Without --fresh the hash link to a deleted local cert stays behind.
    refreshAfterRemove: ['update-ca-certificates', ['--fresh']],
    bundle: '/etc/ssl/certs/ca-certificates.crt',
  },
  {
    family: 'Fedora/RHEL',
    anchorDir: '/etc/pki/ca-trust/source/anchors',
    extension: '.pem',
    refresh: ['update-ca-trust', ['extract']],
    bundle: '/etc/pki/tls/certs/ca-bundle.crt',
  },
  {
    family: 'Arch',
    anchorDir: '/etc/ca-certificates/trust-source/anchors',
    extension: '.crt',
    refresh: ['trust', ['extract-compat']],
    bundle: '/etc/ssl/certs/ca-certificates.crt',
  },
  {
    family: 'openSUSE',
    anchorDir: '/usr/share/pki/trust/anchors',
    extension: '.pem',
    refresh: ['update-ca-certificates', []],
    bundle: '/var/lib/ca-certificates/ca-bundle.pem',
  },
];

export const LINUX_STORE = 'linux-system';

export function linuxSystemStore(ctx: TrustContext, layouts: SystemAnchorLayout[] = LINUX_LAYOUTS): TrustStore {
  const layout = async () => {
    for (const candidate of layouts) if (await isDirectory(candidate.anchorDir)) return candidate;
    return undefined;
  };
  const anchorFile = (l: SystemAnchorLayout, ca: CaInfo) =>
    path.join(l.anchorDir, `nhiicc-${fingerprintPrefix(ca)}${l.extension}`);
  const label = 'system certificate store';
  const needsRoot = (change: Change, verb: string): Change => {
    change.status = 'needs-privileges';
    change.notes.push(`${label}: not changed, ${verb} it needs root (run with sudo)`);
    return change;
  };

  return {
    name: LINUX_STORE,
    label,
    async available() {
      return ctx.platform === 'linux' && (await layout()) !== undefined;
    },

    async install(ca) {
      const change = emptyChange(LINUX_STORE);
      const l = await layout();
      if (!l) throw new Error('no known system certificate folder found');
      const file = anchorFile(l, ca);
      if ((await readIfExists(file)) === ca.pem && (await bundleHas(l, ca))) {
        change.notes.push(`${label}: already trusts the CA (${file})`);
        change.added.push({ store: LINUX_STORE, location: file });
        return change;
      }
      if (!ctx.isRoot) return needsRoot(change, 'adding to');
      await fs.writeFile(file, ca.pem, { mode: 0o644 });
      change.added.push({ store: LINUX_STORE, location: file });
      await runChecked(ctx.runner, ...l.refresh);
      change.status = 'changed';
      change.notes.push(`${label}: added ${file} and ran ${l.refresh[0]}`);
      return change;
    },

    async uninstall(ca, records) {
      const change = emptyChange(LINUX_STORE);
      const l = await layout();
      const files = records
        ? records.filter((r) => r.store === LINUX_STORE).map((r) => r.location)
        : l
          ? [anchorFile(l, ca)]
          : [];
      const present: string[] = [];
      for (const file of files) if (await exists(file)) present.push(file);
      if (present.length === 0) {
        change.notes.push(`${label}: nothing of ours to remove`);
        return change;
      }
      if (!ctx.isRoot) return needsRoot(change, 'removing from');
      for (const file of present) {
        await fs.rm(file);
        change.removed.push({ store: LINUX_STORE, location: file });
      }
      const owner = layouts.find((candidate) => present.some((f) => path.dirname(f) === candidate.anchorDir));
      const refresh = owner?.refreshAfterRemove ?? owner?.refresh;
      if (refresh) await runChecked(ctx.runner, ...refresh);
      change.status = 'changed';
      change.notes.push(`${label}: removed ${present.join(', ')}${refresh ? ` and ran ${refresh.flat().join(' ')}` : ''}`);
      return change;
    },

    async trustedIn(ca) {
      const l = await layout();
      return l === undefined ? [] : [{ location: l.bundle, trusted: await bundleHas(l, ca) }];
    },
  };
}

/** Compares base64 bodies so line wrapping and headers do not matter. */
async function bundleHas(l: SystemAnchorLayout, ca: CaInfo): Promise<boolean> {
  const bundle = await readIfExists(l.bundle);
  return bundle !== undefined && squash(bundle).includes(squash(pemBody(ca.pem)));
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '');
}

function squash(text: string): string {
  return text.replace(/\s+/g, '');
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch {
    return false;
  }
}


