import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../log.js';
import { type CardAccess, openCardReaders } from '../pcsc/index.js';
import { DEFAULT_SAM, hSign, parseSamEndpoint } from '../sam/h-sign.js';
import { ensureServerCertificate, expiryWarning } from '../tls/certificates.js';
import { isLoopbackHost } from '../util/loopback.js';
import { buildApp } from './app.js';
import { readConfigFile } from './config-file.js';
import { normalizeOrigin } from './origin-policy.js';

export interface ServeOptions {
  host: string;
  port: number;
  configDir: string;
  /** `HOST:PORT`; the config file's value, then the built-in default, when absent. */
  sam?: string;
  allowOrigins?: string[];
  logLevel?: string;
  logger?: Logger;
  /** Injected by tests and tools; otherwise the machine's PC/SC. */
  card?: CardAccess;
  maxConnections?: number;
  pingIntervalMs?: number;
  samTimeoutMs?: number;
  /** How long one command may take (protocol/commands.ts DEFAULT_DEADLINE_MS); for tests. */
  deadlineMs?: number;
}

export interface RunningService {
  app: FastifyInstance;
  port: number;
  addresses: string[];
  card: CardAccess;
  close(): Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7777;

export class UsageError extends Error {}

/** A TCP listener on [::1]:port feeding the HTTPS server; undefined where there is no IPv6 loopback. */
function listenIpv6Loopback(app: FastifyInstance, port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => app.server.emit('connection', socket));
    server.once('error', () => resolve(undefined));
    server.listen({ host: '::1', port, ipv6Only: true }, () => resolve(server));
  });
}

const EXPIRY_CHECK_MS = 24 * 60 * 60 * 1000;

export async function startService(opts: ServeOptions): Promise<RunningService> {
  if (!isLoopbackHost(opts.host)) {
    throw new UsageError(`refusing to listen on ${opts.host}: nhiicc serves only this computer (127.0.0.1, ::1, localhost)`);
  }
  const logger = opts.logger ?? createLogger(opts.logLevel);
  const config = readConfigFile(opts.configDir);
  const origins = [...(config.allowOrigins ?? []), ...(opts.allowOrigins ?? [])];
  for (const o of origins) if (!normalizeOrigin(o)) throw new UsageError(`not an origin: ${o} (expected e.g. https://example.gov.tw)`);

  const tls = await ensureServerCertificate(opts.configDir);
  // At start and then daily: a service can run for months between restarts.
  const warnIfExpiring = () => {
    const warning = expiryWarning(tls);
    if (warning) logger.warn({ notAfter: tls.notAfter.toISOString() }, warning);
  };
  warnIfExpiring();
  const expiryTimer = setInterval(warnIfExpiring, EXPIRY_CHECK_MS).unref();

  const card = opts.card ?? openCardReaders({ log: logger });
  let sam: { host: string; port: number };
  try {
    sam = parseSamEndpoint(opts.sam ?? config.sam ?? `${DEFAULT_SAM.host}:${DEFAULT_SAM.port}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const sign = (value: string, signal: AbortSignal) =>
    hSign(card, value, {
      ...sam,
      log: logger,
      signal,
      ...(opts.samTimeoutMs !== undefined ? { connectTimeoutMs: opts.samTimeoutMs, replyTimeoutMs: opts.samTimeoutMs } : {}),
    });
  const app = await buildApp({
    tls,
    logger,
    port: opts.port,
    allowOrigins: origins,
    context: { card, sign, ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}) },
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
  });
  await app.listen({ host: opts.host, port: opts.port });
  const addresses = (app.addresses() as AddressInfo[]).map((a) => a.address);
  const nonLoopback = addresses.filter((a) => !isLoopbackHost(a));
  if (nonLoopback.length > 0) {
    await app.close();
    throw new UsageError(`refusing to serve: ${opts.host} resolved to ${nonLoopback.join(', ')}`);
  }
  const port = (app.addresses()[0] as AddressInfo).port;
  // By default ::1 is served too. Many hosts files map localhost to 127.0.0.1
  // only, so ::1 gets its own listener that hands connections to the same
  // HTTPS server.
  const ipv6 = opts.host === DEFAULT_HOST ? await listenIpv6Loopback(app, port) : undefined;
  if (ipv6) addresses.push('::1');

  logger.info({ addresses: addresses.map((a) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`)), configDir: opts.configDir }, 'nhiicc listening');

  return {
    app,
    port,
    addresses,
    card,
    async close() {
      clearInterval(expiryTimer);
      ipv6?.close();
      await app.close();
      if (!opts.card) await card.close();
    },
  };
}
