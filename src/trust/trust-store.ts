import { createHash } from 'node:crypto';
import { x509 } from '../tls/x509.js';
import type { Runner } from '../util/runner.js';

/** The CA a store is asked to trust, with every identifier some store needs. */
export interface CaInfo {
  pem: string;
  /** Path of a file holding `pem`, for tools that only read files. */
  file: string;
  sha256: string;
  sha1: string;
  /** Lowercase hex, the form `certutil -delstore` accepts. */
  serial: string;
}

/** One thing an install added, so uninstall can remove exactly it. */
export interface TrustRecord {
  store: string;
  /** File, NSS database, keychain or Windows store name. */
  location: string;
  /** Nickname, hash or serial identifying our entry in `location`. */
  name?: string;
  /** The account whose own trust settings hold the entry (macOS login keychains). */
  user?: string;
}

/** `pending`: nothing failed, but trust waits for a person to confirm it (macOS). */
export type ChangeStatus = 'changed' | 'unchanged' | 'pending' | 'needs-privileges' | 'failed';

export interface Change {
  store: string;
  status: ChangeStatus;
  added: TrustRecord[];
  removed: TrustRecord[];
  /** Human-readable lines: what changed, or why nothing did. */
  notes: string[];
}

export interface TrustStore {
  /** Stable id, also used in trust-state.json. */
  name: string;
  /** What a user would call it. */
  label: string;
  available(): Promise<boolean>;
  install(ca: CaInfo): Promise<Change>;
  /** Removes the given records, or when none are known, our entries found by fingerprint. */
  uninstall(ca: CaInfo, records?: TrustRecord[]): Promise<Change>;
  /** Every place the store keeps trust, and whether the CA is trusted there; none when it has nowhere to keep it. */
  trustedIn(ca: CaInfo): Promise<TrustPlace[]>;
}

/** One place a store keeps trust: a file, an NSS database, a trust domain, a Windows store. */
export interface TrustPlace {
  location: string;
  trusted: boolean;
  /** Set when the store could not look there (its tool missing): why, and what to do first. */
  unchecked?: { why: string; fix: string };
}

/** The store trusts the CA: it has a place for trust, and every place trusts it. */
export async function isTrusted(store: TrustStore, ca: CaInfo): Promise<boolean> {
  const places = await store.trustedIn(ca);
  return places.length > 0 && places.every((p) => p.trusted);
}

/** What stores need from the outside world; tests replace all of it. */
export interface TrustContext {
  runner: Runner;
  platform: NodeJS.Platform;
  isRoot: boolean;
  env: NodeJS.ProcessEnv;
  /** Home folders whose browser profiles (NSS databases) get the CA. */
  homeDirs: string[];
  /**
   * macOS: when to show the logged-in user the dialog that confirms trust.
   * `always` when a person asked for it, `unless-declined` from the package's
   * install step (not after two declines), `never` when nobody may be at the
   * screen (everyone is asked at their next login instead).
   */
  prompt?: PromptMode;
  /** How to run this CLI again (node and script), for login items that call back; this process's by default. */
  selfCommand?: string[];
  /** Progress shown while something waits for a person (the notes come after). */
  say?: (line: string) => void;
}

export type PromptMode = 'always' | 'unless-declined' | 'never';
export const PROMPT_MODES: readonly PromptMode[] = ['always', 'unless-declined', 'never'];

export function caInfo(pem: string, file: string): CaInfo {
  const cert = new x509.X509Certificate(pem);
  const der = Buffer.from(cert.rawData);
  return {
    pem,
    file,
    sha256: createHash('sha256').update(der).digest('hex'),
    sha1: createHash('sha1').update(der).digest('hex'),
    serial: cert.serialNumber.toLowerCase(),
  };
}

/** Short enough for file names and nicknames, long enough to never collide. */
export function fingerprintPrefix(ca: Pick<CaInfo, 'sha256'>): string {
  return ca.sha256.slice(0, 16);
}

export function emptyChange(store: string): Change {
  return { store, status: 'unchanged', added: [], removed: [], notes: [] };
}
