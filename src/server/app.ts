import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../log.js';
import type { CommandContext } from '../protocol/commands.js';
import { APP_VERSION } from '../version.js';
import { noteOnce } from './client-faults.js';
import { echoRoute, MAX_FRAME_BYTES, onSocketError } from './echo-route.js';
import { esamplePlugin } from './esample-plugin.js';
import { isAllowedHost } from './host-guard.js';
import { createOriginPolicy } from './origin-policy.js';
import { pagesPlugin } from './pages.js';
import { addSecurityHeaders } from './security-headers.js';

export interface AppOptions {
  /** `notAfter` is shown on the diagnostic page. */
  tls: { key: string; cert: string; notAfter?: Date };
  logger: Logger;
  /** The port clients see, for the Host and Origin checks: known once the service listens. */
  port: () => number;
  /** Web origins allowed besides government pages and our own. */
  allowOrigins?: string[];
  context: Omit<CommandContext, 'clearance' | 'signal'>;
  maxConnections?: number;
  pingIntervalMs?: number;
  /** Where the ESample page is; beside the program when absent. */
  htmlDir?: string;
}

function noSchemas(): never {
  throw new Error('nhiicc routes declare no schemas: no schema compiler is loaded');
}

/**
 * Everything a handler uses is made here, before any listener opens: a
 * connection that arrives the moment the first listener is up finds it all.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  // The HTTPS server and pino logger types do not line up with fastify's
  // defaults; plugins only need the common instance interface.
  const app = Fastify({
    loggerInstance: opts.logger,
    // One line per command is logged by the echo route; per-request lines add nothing.
    logController: new LogController({ disableRequestLogging: true }),
    // Browsers keep spare TLS connections open with no request on them; only
    // closing all connections stops the daemon at once instead of after the
    // 60 s headers timeout.
    forceCloseConnections: true,
    // Node checks the headers timeout (60 s) of open connections on a timer,
    // by default every 30 s, even with no connection: once a minute is enough
    // for a 60 s timeout and keeps an idle service asleep.
    https: { key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2', connectionsCheckingInterval: 60_000 },
    // No route declares a schema: fastify's default compilers (ajv,
    // fast-json-stringify) would only be loaded to cost start time and memory.
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
  }) as unknown as FastifyInstance;
  const { port } = opts;
  // Request logging is off, which also silences fastify's own 5xx lines.
  app.setErrorHandler<FastifyError>((err, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err, method: req.method, url: req.url }, 'request failed');
    else noteOnce(req, 'info', { status, method: req.method, url: req.url, reason: err.message }, 'bad request');
    return reply.code(status).type('text/plain; charset=utf-8').send(status === 500 ? 'internal error\n' : 'bad request\n');
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!isAllowedHost(req.headers.host, port())) {
      noteOnce(req, 'warn', { host: req.headers.host ?? '(none)' }, 'Host refused');
      return reply.code(421).send('misdirected request\n');
    }
  });
  addSecurityHeaders(app);
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES }, errorHandler: onSocketError });
  await app.register(echoRoute, {
    policy: createOriginPolicy(port, opts.allowOrigins),
    context: opts.context,
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
  });
  await app.register(pagesPlugin);
  await app.register(esamplePlugin, {
    port,
    status: () => opts.context.card.status(),
    version: APP_VERSION,
    ...(opts.tls.notAfter ? { notAfter: opts.tls.notAfter } : {}),
    ...(opts.htmlDir !== undefined ? { htmlDir: opts.htmlDir } : {}),
  });
  return app;
}
