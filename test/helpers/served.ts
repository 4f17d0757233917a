import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { type RunningService, type ServeOptions, startService } from '../../src/server/service.js';

export const GOV_ORIGIN = 'https://cloudicweb.nhi.gov.tw';

export interface Served {
  service: RunningService;
  port: number;
  configDir: string;
  ca: string;
  /** Every log line the service wrote, as text. */
  logText(): string;
  /** Open a WebSocket to /echo, trusting our CA. */
  connect(options?: { origin?: string | null; host?: string; autoPong?: boolean; ipv6?: boolean }): Promise<WebSocket>;
  close(): Promise<void>;
}

export async function serve(options: Partial<ServeOptions> = {}): Promise<Served> {
  const configDir = options.configDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-served-'));
  const sink = new PassThrough();
  const lines: string[] = [];
  sink.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
  const service = await startService({
    host: '127.0.0.1',
    port: 0,
    configDir,
    logger: createLogger(options.logLevel ?? 'trace', sink),
    ...options,
  });
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  return {
    service,
    port: service.port,
    configDir,
    ca,
    logText: () => lines.join(''),
    connect: (o = {}) => openSocket(service.port, ca, o),
    async close() {
      await service.close();
      if (!options.configDir) fs.rmSync(configDir, { recursive: true, force: true });
    },
  };
}

export function openSocket(
  port: number,
  ca: string,
  o: { origin?: string | null; host?: string; autoPong?: boolean; ipv6?: boolean } = {},
): Promise<WebSocket> {
  const [address, family] = o.ipv6 ? ['::1', 6] : ['127.0.0.1', 4];
  const origin = o.origin === undefined ? GOV_ORIGIN : o.origin;
  const ws = new WebSocket(`wss://iccert.nhi.gov.tw:${port}/echo`, {
    ca,
    // The name resolves to loopback without touching /etc/hosts.
    lookup: ((_host: string, opts: unknown, cb: (...a: unknown[]) => void) =>
      (opts as { all?: boolean }).all ? cb(null, [{ address, family }]) : cb(null, address, family)) as never,
    ...(origin !== null ? { origin } : {}),
    ...(o.host ? { headers: { host: o.host } } : {}),
    ...(o.autoPong === false ? { autoPong: false } : {}),
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
    });
  });
}

/** Send one command and wait for its one reply. */
export function ask(ws: WebSocket, text: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${text.split('?')[0]} in ${timeoutMs} ms`)), timeoutMs);
    ws.once('message', (data) => {
      clearTimeout(timer);
      resolve(data.toString());
    });
    ws.send(text);
  });
}

export function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve(-1);
    ws.once('close', (code) => resolve(code));
  });
}
