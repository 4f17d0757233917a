import { SERVER_HOSTS } from '../config/names.js';

/**
 * DNS rebinding guard: a page on evil.example that makes its name resolve to
 * 127.0.0.1 still sends `Host: evil.example`, so only our own names pass
 * (docs/protocol.md §1, the `Host` header rule).
 */
const ALLOWED_HOSTS = new Set(SERVER_HOSTS);

export function isAllowedHost(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase());
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  return ALLOWED_HOSTS.has(m[1]!);
}
