import type { FastifyInstance } from 'fastify';
import { NHI_CARD } from '../card/operations.js';
import { createLogger, type Logger } from '../log.js';
import { type CardAccess, openCardReaders } from '../pcsc/index.js';
import { DEFAULT_SAM, hSign, parseSamEndpoint } from '../sam/h-sign.js';
import { ensureServerCertificate, expiryWarning } from '../tls/certificates.js';
import { isLoopbackHost } from '../util/loopback.js';
import { DAY_MS } from '../util/time.js';
import { buildApp } from './app.js';
import { readConfigFile } from './config-file.js';
import { whenIdle } from './idle-exit.js';
import { type Listening, listen, NotLoopbackError, passedSockets } from './listeners.js';
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
  /** Where the ESample page is (the Linux packages keep it in /usr/share); beside the program when absent. */
  htmlDir?: string;
  /** Listening sockets passed by systemd (listeners.ts passedSockets); read from the environment when absent. */
  passedSockets?: number[];
  /**
   * Seconds without any connection after which `onIdle` is called; 0 never.
   * Absent: IDLE_EXIT_SECONDS under socket activation (systemd starts the
   * service again on the next connection), never otherwise.
   */
  idleExitSeconds?: number;
  onIdle?: () => void;
}

export interface RunningService {
  app: FastifyInstance;
  port: number;
  addresses: string[];
  /** Listening on sockets systemd passed. */
  activated: boolean;
  card: CardAccess;
  close(): Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const IDLE_EXIT_SECONDS = 600;

export class UsageError extends Error {}

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
  const expiryTimer = setInterval(warnIfExpiring, DAY_MS).unref();

  const card = opts.card ?? openCardReaders({ wanted: NHI_CARD, log: logger });
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
  // The Host and Origin checks need the port pages use; with port 0 or
  // sockets from systemd it is known once the service listens.
  let listening: Listening | undefined;
  const app = await buildApp({
    tls,
    logger,
    port: () => listening?.port ?? opts.port,
    allowOrigins: origins,
    context: { card, sign, ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}) },
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
    ...(opts.htmlDir !== undefined ? { htmlDir: opts.htmlDir } : {}),
  });
  try {
    listening = await listen(app, { host: opts.host, port: opts.port, alsoIpv6: opts.host === DEFAULT_HOST, passed: opts.passedSockets ?? passedSockets() });
  } catch (err) {
    if (!opts.card) await card.close();
    clearInterval(expiryTimer);
    throw err instanceof NotLoopbackError ? new UsageError(err.message) : err;
  }
  const { port, addresses, activated } = listening;
  const idleSeconds = opts.idleExitSeconds ?? (activated ? IDLE_EXIT_SECONDS : 0);
  const idle = idleSeconds > 0 && opts.onIdle ? whenIdle(app.server, idleSeconds * 1000, opts.onIdle) : undefined;

  logger.info(
    {
      addresses: addresses.map((a) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`)),
      configDir: opts.configDir,
      ...(activated ? { socketActivated: true } : {}),
      ...(idle ? { idleExitSeconds: idleSeconds } : {}),
    },
    'nhiicc listening',
  );

  return {
    app,
    port,
    addresses,
    activated,
    card,
    async close() {
      clearInterval(expiryTimer);
      idle?.stop();
      listening?.close();
      await app.close();
      if (!opts.card) await card.close();
    },
  };
}
