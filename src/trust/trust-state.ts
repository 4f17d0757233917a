import fs from 'node:fs/promises';
import path from 'node:path';
import type { TrustRecord } from './trust-store.js';

export const TRUST_STATE_FILE = 'trust-state.json';

/** A CA we made some store trust, kept with its PEM so it can be removed after renewal. */
export interface TrustedCa {
  sha256: string;
  pem: string;
  records: TrustRecord[];
}

export interface TrustState {
  version: 1;
  cas: TrustedCa[];
}

export async function readTrustState(dir: string): Promise<TrustState> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, TRUST_STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, cas: [] };
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<TrustState>;
  if (parsed.version !== 1 || !Array.isArray(parsed.cas)) {
    throw new Error(`${path.join(dir, TRUST_STATE_FILE)} is not a trust state file this version understands`);
  }
  return { version: 1, cas: parsed.cas };
}

export async function writeTrustState(dir: string, state: TrustState): Promise<void> {
  const file = path.join(dir, TRUST_STATE_FILE);
  const live = state.cas.filter((ca) => ca.records.length > 0);
  if (live.length === 0) {
    await fs.rm(file, { force: true });
    return;
  }
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify({ version: 1, cas: live }, null, 2)}\n`, { mode: 0o644 });
  await fs.rename(tmp, file);
}

export function sameRecord(a: TrustRecord, b: TrustRecord): boolean {
  return a.store === b.store && a.location === b.location && a.name === b.name;
}
