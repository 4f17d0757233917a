import type { FastifyInstance } from 'fastify';
import { SERVER_HOSTS } from '../config/names.js';

const OWN_SOCKETS = SERVER_HOSTS.filter((h) => !h.startsWith('[')).map((h) => `wss://${h}:*`);

/**
 * Headers on everything the daemon serves: nothing external, no framing, no
 * sniffing. CSP has no syntax for IPv6 literals (browsers drop
 * `wss://[::1]:*` with a console error); a page served from [::1] reaches its
 * own socket through 'self'.
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    `default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ${OWN_SOCKETS.join(' ')}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
} as const;

export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
}
