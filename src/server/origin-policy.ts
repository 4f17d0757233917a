import { SERVER_HOSTS } from '../config/names.js';
import type { Clearance } from '../protocol/commands.js';

/**
 * Who may use the protocol. Government pages (`https://*.gov.tw`, any port)
 * and the daemon's own pages get everything; a local file (the ESample page
 * opened from disk sends `Origin: null` or `file://`) may only ask the
 * version; every other origin is refused at the upgrade (docs/protocol.md §1).
 */
export interface OriginPolicy {
  clearance(origin: string | undefined): Clearance | 'refused';
}

const GOV_TW = /^https:\/\/([a-z0-9-]+\.)+gov\.tw(:\d{1,5})?$/;

export function ownOrigins(port: number): string[] {
  const suffix = port === 443 ? '' : `:${port}`;
  return SERVER_HOSTS.map((h) => `https://${h}${suffix}`);
}

/** `https://Example.org:443/` → `https://example.org`; undefined for what is not an origin. */
export function normalizeOrigin(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

/** `port` is asked per check: with port 0 the real one is known only once the server listens. */
export function createOriginPolicy(port: () => number, extra: string[] = []): OriginPolicy {
  const allowed = new Set(extra.map((o) => normalizeOrigin(o) ?? o));
  return {
    clearance(origin) {
      if (origin === undefined) return 'refused';
      if (origin === 'null' || origin === 'file://') return 'version-only';
      const normalized = normalizeOrigin(origin);
      if (normalized === undefined) return 'refused';
      if (GOV_TW.test(normalized) || allowed.has(normalized) || ownOrigins(port()).includes(normalized)) return 'full';
      return 'refused';
    },
  };
}
