import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import WebSocket from 'ws';
import { LAUNCHD_LABEL, NHI_HOST, NHI_PORT } from '../config/names.js';
import { hostsStatus, resolvesToLoopback } from '../hosts/hosts-file.js';
import { PROTOCOL_VERSION } from '../protocol/commands.js';
import { sha256Fingerprint } from '../tls/certificates.js';
import type { Runner } from '../util/runner.js';
import { ENABLE_SOCKET } from './service-checks.js';
import { asAdmin, type Check, failed, passed } from './check.js';

export interface HostsCheckOptions {
  platform: NodeJS.Platform;
  /** Judge this hosts file instead of the system resolver (`--hosts-file`). */
  hostsFile?: string;
  resolves?: (name: string) => Promise<boolean>;
}

/** `hosts`: what the browser will get when it looks the name up. */
export async function hostsCheck(options: HostsCheckOptions): Promise<Check> {
  const id = 'hosts';
  const fix = `run ${asAdmin('nhiicc hosts install', options.platform)}`;
  if (options.hostsFile !== undefined) {
    const s = await hostsStatus({ file: options.hostsFile, resolves: async () => false });
    const details = { file: s.file, hasOurLine: s.hasOurLine };
    return s.fileMapsToLoopback
      ? passed(id, `${s.file} maps ${NHI_HOST} to loopback`, details)
      : failed(id, `${s.file} does not map ${NHI_HOST} to loopback`, `${fix} --hosts-file ${s.file}`, details);
  }
  const s = await hostsStatus({ resolves: options.resolves ?? resolvesToLoopback });
  const details = { file: s.file, hasOurLine: s.hasOurLine, fileMapsToLoopback: s.fileMapsToLoopback };
  if (s.resolvesToLoopback) return passed(id, `${NHI_HOST} resolves to loopback`, details);
  if (s.fileMapsToLoopback) {
    const flush = options.platform === 'win32' ? '`ipconfig /flushdns`' : options.platform === 'darwin' ? '`sudo dscacheutil -flushcache; sudo killall -HUP mDNSResponder`' : 'check that /etc/nsswitch.conf lists "files" for hosts';
    return failed(id, `${s.file} maps ${NHI_HOST} to loopback but the resolver does not answer so`, flush, details);
  }
  return failed(id, `${NHI_HOST} does not resolve to loopback`, fix, details);
}

/** What answered on the port, as far as a client can tell. */
export type ProbeResult =
  | { kind: 'nothing' }
  | { kind: 'nhiicc'; certSha256?: string; getVersion: string }
  /** Speaks the NHIICC protocol or shows its page, but is not nhiicc: the official component. */
  | { kind: 'compatible'; certSha256?: string; evidence: string }
  | { kind: 'other'; evidence: string };

export type Prober = (port: number) => Promise<ProbeResult>;

const TRUSTED_TEXT = '已確認為可信任服務';

/**
 * Connects as a browser would, to NHI_HOST on loopback. The
 * certificate is NOT verified: this only asks who is there, and sends
 * nothing but `GET /` and `GetVersion`. Whether browsers trust the
 * certificate is the trust checks' job.
 */
export function probePort(timeoutMs = 2000): Prober {
  return async (port) => {
    const page = await httpsGet(port, timeoutMs);
    if (page.kind === 'refused') return { kind: 'nothing' };
    if (page.kind === 'error') return { kind: 'other', evidence: page.message };
    const version = await getVersion(port, timeoutMs);
    const trustedPage = page.status === 200 && page.body.includes(TRUSTED_TEXT);
    const cert = page.certSha256 !== undefined ? { certSha256: page.certSha256 } : {};
    // Our page names itself; the official one shows the same heading without it.
    if (trustedPage && /nhiicc/i.test(page.body)) return { kind: 'nhiicc', ...cert, getVersion: version };
    if (version === `GetVersion:${PROTOCOL_VERSION}` || trustedPage) {
      return { kind: 'compatible', ...cert, evidence: trustedPage ? `its page says ${TRUSTED_TEXT} but is not nhiicc's` : `it answers ${version}` };
    }
    return { kind: 'other', evidence: `HTTPS ${page.status}, not the nhiicc page` };
  };
}

const toLoopback: LookupFunction = (_host, options, callback) => {
  if (options.all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

type PageResult =
  | { kind: 'page'; status: number; body: string; certSha256?: string }
  | { kind: 'refused' }
  | { kind: 'error'; message: string };

function httpsGet(port: number, timeoutMs: number): Promise<PageResult> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: NHI_HOST, port, path: '/', lookup: toLoopback, rejectUnauthorized: false, agent: false, timeout: timeoutMs },
      (res) => {
        const socket = res.socket as import('node:tls').TLSSocket;
        const raw = socket.getPeerCertificate?.()?.raw;
        const certSha256 = raw ? sha256Fingerprint(new X509Certificate(raw)) : undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 256 * 1024) chunks.push(c);
        });
        res.on('end', () =>
          resolve({ kind: 'page', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(certSha256 ? { certSha256 } : {}) }),
        );
        res.on('error', (err) => resolve({ kind: 'error', message: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`accepts connections but gave no HTTPS answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve({ kind: 'refused' });
      else resolve({ kind: 'error', message: err.code === 'ECONNRESET' ? 'accepts connections but is not an HTTPS server' : err.message });
    });
  });
}

/** The reply to `GetVersion`, or why there was none. */
function getVersion(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://${NHI_HOST}:${port}/echo`, {
      origin: `https://${NHI_HOST}:${port}`,
      lookup: toLoopback,
      rejectUnauthorized: false,
      handshakeTimeout: timeoutMs,
    });
    const done = (answer: string) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(answer);
    };
    const timer = setTimeout(() => done(`no answer to GetVersion within ${timeoutMs} ms`), timeoutMs);
    ws.on('open', () => ws.send('GetVersion'));
    ws.on('message', (data) => done(data.toString()));
    ws.on('unexpected-response', (_req, res) => done(`WebSocket refused (HTTP ${res.statusCode})`));
    ws.on('error', (err) => done(`WebSocket error: ${err.message}`));
  });
}

export interface Listener {
  pid?: number;
  name?: string;
  address?: string;
}

/** Who listens on the port, by the platform's own tool; empty when it cannot tell. */
export async function findListeners(port: number, platform: NodeJS.Platform, runner: Runner): Promise<Listener[]> {
  if (platform === 'win32') return windowsListeners(port, runner);
  if (platform === 'darwin') return darwinListeners(port, runner);
  return linuxListeners(port, runner);
}

async function linuxListeners(port: number, runner: Runner): Promise<Listener[]> {
  const r = await runner('ss', ['-ltnp', `sport = :${port}`]);
  if (r.code !== 0) return [];
  return dedupe(parseSs(r.stdout, port));
}

/** `LISTEN 0 511 127.0.0.1:7777 0.0.0.0:* users:(("node",pid=1234,fd=21))` */
export function parseSs(stdout: string, port: number): Listener[] {
  const found: Listener[] = [];
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] !== 'LISTEN' || !cols[3]?.endsWith(`:${port}`)) continue;
    const address = cols[3];
    const users = [...line.matchAll(/\("([^"]*)",pid=(\d+)/g)];
    if (users.length === 0) found.push({ address });
    for (const u of users) found.push({ name: u[1]!, pid: Number(u[2]), address });
  }
  return found;
}

async function darwinListeners(port: number, runner: Runner): Promise<Listener[]> {
  const r = await runner('lsof', ['-nP', '+c', '0', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpcn']);
  if (r.code !== 0) return [];
  return dedupe(parseLsof(r.stdout));
}

/** lsof -F output: `p<pid>`, `c<command>`, then `f`/`n` lines per file. */
export function parseLsof(stdout: string): Listener[] {
  const found: Listener[] = [];
  let current: Listener | undefined;
  for (const line of stdout.split('\n')) {
    const tag = line[0];
    const value = line.slice(1).trim();
    if (tag === 'p') {
      current = { pid: Number(value) };
      found.push(current);
    } else if (tag === 'c' && current) current.name = value;
    else if (tag === 'n' && current && current.address === undefined) current.address = value;
  }
  return found;
}

async function windowsListeners(port: number, runner: Runner): Promise<Listener[]> {
  const r = await runner('netstat', ['-ano', '-p', 'TCP']);
  const r6 = await runner('netstat', ['-ano', '-p', 'TCPv6']);
  const listeners = dedupe(parseNetstat(`${r.code === 0 ? r.stdout : ''}\n${r6.code === 0 ? r6.stdout : ''}`, port));
  for (const l of listeners) {
    if (l.pid === undefined) continue;
    const t = await runner('tasklist', ['/FI', `PID eq ${l.pid}`, '/FO', 'CSV', '/NH']);
    const name = /^"([^"]+)"/.exec(t.stdout.trim())?.[1];
    if (t.code === 0 && name) l.name = name;
  }
  return listeners;
}

/**
 * `  TCP    0.0.0.0:7777   0.0.0.0:0   LISTENING   4321`. The state word is
 * translated on some Windows languages; a listening socket is the one whose
 * foreign port is 0.
 */
export function parseNetstat(stdout: string, port: number): Listener[] {
  const found: Listener[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^\s*TCP\s+(\S+):(\d+)\s+\S+:0\s+\S+\s+(\d+)\s*$/i.exec(line);
    if (m && Number(m[2]) === port) found.push({ address: `${m[1]}:${m[2]}`, pid: Number(m[3]) });
  }
  return found;
}

function dedupe(listeners: Listener[]): Listener[] {
  const seen = new Map<string, Listener>();
  for (const l of listeners) {
    const key = l.pid !== undefined ? `pid:${l.pid}` : `addr:${l.address}`;
    const prev = seen.get(key);
    if (!prev) seen.set(key, { ...l });
    else if (prev.address && l.address && !prev.address.split(', ').includes(l.address)) prev.address += `, ${l.address}`;
  }
  return [...seen.values()];
}

export function describeListeners(listeners: Listener[]): string | undefined {
  const named = listeners.filter((l) => l.name !== undefined || l.pid !== undefined);
  if (named.length === 0) return undefined;
  return named.map((l) => `${l.name ?? 'a program'}${l.pid !== undefined ? ` (pid ${l.pid})` : ''}`).join(', ');
}

export interface PortCheckDeps {
  port: number;
  platform: NodeJS.Platform;
  probe: Prober;
  findListeners: (port: number) => Promise<Listener[]>;
  /** SHA-256 of the server certificate in the config folder, to see that the service serves it. */
  expectedCertSha256?: string;
  configDir: string;
  /** What the official-component check found, to name it here. */
  officialFound?: boolean;
}

/** `port`: is it nhiicc that answers, and with our certificate? */
export async function portCheck(deps: PortCheckDeps): Promise<Check> {
  const { port, platform } = deps;
  const id = 'port';
  const result = await deps.probe(port);
  if (result.kind === 'nothing') {
    return failed(id, `nothing listens on port ${port}`, `start nhiicc: ${startFix(platform, port)}`, { port });
  }
  if (result.kind === 'nhiicc') {
    const details = { port, ...(result.certSha256 ? { certSha256: result.certSha256 } : {}), getVersion: result.getVersion };
    if (result.getVersion !== `GetVersion:${PROTOCOL_VERSION}`) {
      return failed(id, `nhiicc answers on port ${port} but GetVersion did not work (${result.getVersion})`, `${restartFix(platform)}; its log says why`, details);
    }
    if (deps.expectedCertSha256 !== undefined && result.certSha256 !== undefined && result.certSha256 !== deps.expectedCertSha256) {
      return failed(
        id,
        `nhiicc answers on port ${port} but serves another certificate than the one in ${deps.configDir}`,
        `${restartFix(platform)} so it loads the current certificate (or run doctor with the service's --config-dir)`,
        details,
      );
    }
    return passed(id, `nhiicc answers on port ${port} (GetVersion:${PROTOCOL_VERSION})`, details);
  }
  const listeners = await deps.findListeners(port).catch(() => []);
  const who = describeListeners(listeners);
  const details = { port, listeners, evidence: result.evidence };
  if (result.kind === 'compatible' || (deps.officialFound && isOfficialName(who))) {
    return failed(
      id,
      `port ${port} is held by another NHI card component, not nhiicc: ${who ?? 'most likely the official one'} (${result.evidence})`,
      `remove the official NHI card component (see official-component), then start nhiicc: ${startFix(platform, port)}`,
      details,
    );
  }
  const held = who ? `by ${who}` : platform === 'win32' ? 'by a program that could not be named' : 'by a program that could not be named (run doctor with sudo to name it)';
  return failed(
    id,
    `port ${port} is held ${held}, not nhiicc (${result.evidence})`,
    `stop that program${port === NHI_PORT ? ` (NHI web pages always use port ${NHI_PORT})` : ''}, then start nhiicc: ${startFix(platform, port)}`,
    details,
  );
}

/** The official programs are mLNHIICC and mNHIICC.exe; ours runs as node. */
function isOfficialName(who: string | undefined): boolean {
  return who !== undefined && /NHIICC/.test(who);
}

export function startFix(platform: NodeJS.Platform, port: number): string {
  const custom = port !== NHI_PORT ? ` (for port ${port}: \`nhiicc serve --port ${port}\`)` : '';
  if (platform === 'win32') return `${asAdmin('sc.exe start nhiicc', platform)}${custom}`;
  if (platform === 'darwin') return `${asAdmin(`launchctl kickstart -k system/${LAUNCHD_LABEL}`, platform)}${custom}`;
  return `${asAdmin(ENABLE_SOCKET, platform)}, or without systemd \`nhiicc serve\`${custom}`;
}

function restartFix(platform: NodeJS.Platform): string {
  if (platform === 'win32') return `restart the service: ${asAdmin('sc.exe stop nhiicc', platform)} then ${asAdmin('sc.exe start nhiicc', platform)}`;
  if (platform === 'darwin') return `restart the service: ${asAdmin(`launchctl kickstart -k system/${LAUNCHD_LABEL}`, platform)}`;
  return `restart the service: ${asAdmin('systemctl restart nhiicc', platform)}`;
}
