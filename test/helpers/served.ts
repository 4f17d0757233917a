import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { type RunningService, type ServeOptions, startService } from '../../src/server/service.js';
import { SERVICE_NODE_OPTIONS } from '../../src/server/service-node-options.js';
import { BUNDLE_DIR, CLI, NODE } from './cli.js';

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

/**
 * The service on a free loopback port with its own config folder: in this
 * process, or with NHIICC_TEST_BUNDLE as the bundled program in a process of
 * its own, started the way the service definitions start it.
 */
export async function serve(options: Partial<ServeOptions> = {}): Promise<Served> {
  if (BUNDLE_DIR) return serveBundle(options);
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

/** What `nhiicc serve` takes on its command line; the rest are in-process hooks. */
const CLI_OPTIONS = new Set(['host', 'configDir', 'sam', 'allowOrigins', 'logLevel']);

async function serveBundle(options: Partial<ServeOptions>): Promise<Served> {
  const inProcessOnly = Object.keys(options).filter((k) => !CLI_OPTIONS.has(k));
  if (inProcessOnly.length > 0) throw new Error(`serve(): ${inProcessOnly.join(', ')} cannot be given to the bundled program`);
  const configDir = options.configDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-served-'));
  const args = [...SERVICE_NODE_OPTIONS, CLI, 'serve', '--port', '0', '--config-dir', configDir, '--log-level', options.logLevel ?? 'trace'];
  if (options.host) args.push('--host', options.host);
  if (options.sam) args.push('--sam', options.sam);
  for (const origin of options.allowOrigins ?? []) args.push('--allow-origin', origin);
  const child = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const addresses = await new Promise<string[]>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(`${line}\n`);
      if (line.includes('"nhiicc listening"')) resolve((JSON.parse(line) as { addresses: string[] }).addresses);
    });
    void exited.then(() => reject(new Error(`the bundled service exited before listening: ${stderr.trim()}`)));
  });
  const port = Number(/:(\d+)$/.exec(addresses[0]!)![1]);
  const ca = fs.readFileSync(path.join(configDir, 'ca.crt'), 'utf8');
  return {
    get service(): RunningService {
      throw new Error('the bundled program runs in a process of its own: no RunningService here');
    },
    port,
    configDir,
    ca,
    logText: () => lines.join(''),
    connect: (o = {}) => openSocket(port, ca, o),
    async close() {
      child.kill('SIGTERM');
      await exited;
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
