import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { BUNDLE } from '../bundle.js';
import type { PcscStatus } from '../pcsc/card-readers.js';
import { normalizeOrigin, ownOrigins } from './origin-policy.js';

export interface ESampleOptions {
  /** The port the service answers on, for the same-origin check. */
  port: () => number;
  /** Readers and card presence; never personal data. */
  status: () => PcscStatus;
  version: string;
  /** The server certificate's expiry, shown so users see a renewal coming. */
  notAfter?: Date;
  /** Where ESample.html and esample.js are; the package's `html/` when absent. */
  htmlDir?: string;
}

/** What `GET /status.json` answers. */
export interface StatusJson {
  version: string;
  pcsc: PcscStatus;
  certificate: { notAfter: string | null };
}

/**
 * `html/` is beside the bundled program; `src/server/` under tsx and
 * `dist/server/` after tsc are both two levels below the package root, where
 * `html/` is.
 */
export const DEFAULT_HTML_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), ...(BUNDLE ? [] : ['..', '..']), 'html');

const FILES = {
  '/ESample.html': { file: 'ESample.html', type: 'text/html; charset=utf-8' },
  '/esample.js': { file: 'esample.js', type: 'text/javascript; charset=utf-8' },
} as const;

/**
 * The diagnostic page and its status feed. The status is only for the page
 * itself: another site could otherwise probe which readers and cards this
 * computer has (the Host guard already stops DNS rebinding).
 */
export const esamplePlugin: FastifyPluginAsync<ESampleOptions> = async (app, opts) => {
  const dir = opts.htmlDir ?? DEFAULT_HTML_DIR;
  const sameOrigin = (req: FastifyRequest): boolean => {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const normalized = normalizeOrigin(origin);
    return normalized !== undefined && ownOrigins(opts.port()).includes(normalized);
  };

  for (const [route, { file, type }] of Object.entries(FILES)) {
    app.get(route, async (req, reply) => {
      let body: Buffer;
      try {
        // Read per request: the page is small and an upgrade that replaces
        // html/ under a running daemon then serves the matching pair.
        body = await fs.readFile(path.join(dir, file));
      } catch (err) {
        req.log.warn({ file, err: (err as Error).message }, 'diagnostic page file missing');
        return reply.code(404).type('text/plain; charset=utf-8').send(`${file} is not installed\n`);
      }
      return reply.type(type).header('cache-control', 'no-cache').send(body);
    });
  }

  app.get('/status.json', async (req, reply) => {
    if (!sameOrigin(req)) {
      req.log.warn({ origin: req.headers.origin ?? '(none)', site: req.headers['sec-fetch-site'] ?? '(none)' }, 'status refused');
      return reply.code(403).type('application/json').send({ error: 'same-origin only' });
    }
    const pcsc = opts.status();
    // Copied field by field so nothing added to PcscStatus later leaks here unseen.
    const body: StatusJson = {
      version: opts.version,
      pcsc: {
        available: pcsc.available,
        ...(pcsc.reason !== undefined ? { reason: pcsc.reason } : {}),
        readers: pcsc.readers.map((r) => ({
          name: r.name,
          cardPresent: r.cardPresent,
          ...(r.accepted !== undefined ? { nhiCard: r.accepted } : {}),
        })),
      },
      certificate: { notAfter: opts.notAfter ? opts.notAfter.toISOString() : null },
    };
    return reply.type('application/json').header('cache-control', 'no-store').send(body);
  });
};
