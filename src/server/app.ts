import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../log.js';
import type { CommandContext } from '../protocol/commands.js';
import { APP_VERSION } from '../version.js';
import { echoRoute, MAX_FRAME_BYTES } from './echo-route.js';
import { esamplePlugin } from './esample-plugin.js';
import { isAllowedHost } from './host-guard.js';
import type { OriginPolicy } from './origin-policy.js';
import { pagesPlugin } from './pages.js';
import { addSecurityHeaders } from './security-headers.js';

export interface AppOptions {
  /** `notAfter` is shown on the diagnostic page. */
  tls: { key: string; cert: string; notAfter?: Date };
  logger: Logger;
  /** The port clients see, for the Host check (the listening port). */
  port: number;
  policy: OriginPolicy;
  context: Omit<CommandContext, 'clearance'>;
  maxConnections?: number;
  pingIntervalMs?: number;
}

function noSchemas(): never {
  throw new Error('nhiicc routes declare no schemas: no schema compiler is loaded');
}

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
  const port = () => {
    const addr = app.server.address();
    return typeof addr === 'object' && addr ? addr.port : opts.port;
  };
  app.addHook('onRequest', async (req, reply) => {
    if (!isAllowedHost(req.headers.host, port())) {
      req.log.warn({ host: req.headers.host ?? '(none)' }, 'Host refused');
      return reply.code(421).send('misdirected request\n');
    }
  });
  addSecurityHeaders(app);
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } });
  await app.register(echoRoute, {
    policy: opts.policy,
    context: opts.context,
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
  });
  await app.register(pagesPlugin);
  await app.register(esamplePlugin, {
    status: () => opts.context.card.status(),
    version: APP_VERSION,
    ...(opts.tls.notAfter ? { notAfter: opts.tls.notAfter } : {}),
  });
  return app;
}
