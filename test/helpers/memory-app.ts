import type { Test } from 'tap';
import type WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { buildApp } from '../../src/server/app.js';
import { issueServerCertificate } from '../../src/tls/certificates.js';
import { FakeCard } from './fake-card.js';
import { GOV_ORIGIN } from './served.js';

/**
 * The service's fastify app in memory (fastify's inject and injectWS), with
 * a fake card layer and a stand-in signer: no card, no PC/SC, no socket.
 */

export const PORT = 7777;
export const HEADERS = { origin: GOV_ORIGIN, host: `iccert.nhi.gov.tw:${PORT}` };
const { certPem, keyPem } = await issueServerCertificate();

export interface Line {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface MemoryAppOptions {
  deadlineMs?: number;
  sign?: (value: string, signal: AbortSignal) => Promise<string>;
  now?: () => Date;
  onLine?: (line: string) => void;
}

export async function memoryApp(t: Test, options: MemoryAppOptions = {}) {
  const card = new FakeCard();
  const lines: string[] = [];
  const logger = createLogger('info', {
    write: (s: string) => {
      options.onLine?.(s);
      lines.push(s);
    },
  });
  const app = await buildApp({
    tls: { key: keyPem, cert: certPem },
    logger,
    port: () => PORT,
    context: {
      card,
      sign: options.sign ?? (async () => 'x'.repeat(256)),
      ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    },
  });
  await app.ready();
  t.teardown(() => {
    // In-memory sockets never end like TCP does: without this, ws waits 30 s for the close handshake.
    for (const ws of app.websocketServer.clients) ws.terminate();
    return app.close();
  });
  return {
    app,
    card,
    connect: (headers: Record<string, string> = HEADERS) => app.injectWS('/echo', { headers }) as Promise<WebSocket>,
    log: () => lines.map((l) => JSON.parse(l) as Line),
  };
}
