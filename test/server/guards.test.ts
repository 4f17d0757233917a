import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import WebSocket from 'ws';
import type { CardAccess } from '../../src/pcsc/card-readers.js';
import { NoCardError } from '../../src/pcsc/errors.js';
import { startService } from '../../src/server/service.js';
import { runCli } from '../helpers/cli.js';
import { ask, closed, openSocket, serve } from '../helpers/served.js';

/**
 * Who may connect, and what the daemon does with hostile input. The card is
 * not needed here: a card layer that has no reader stands in (unit level).
 */
const noCard: CardAccess = {
  withCard: async () => {
    throw new NoCardError('no-reader', 'no card reader found');
  },
  status: () => ({ available: true, readers: [] }),
  close: async () => undefined,
};

const served = await serve({ card: noCard, allowOrigins: ['https://partner.example.org'], maxConnections: 64, pingIntervalMs: 200 });
t.teardown(() => served.close());

const status = async (p: Promise<unknown>) => {
  try {
    const ws = (await p) as WebSocket;
    ws.close();
    return 101;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode ?? -1;
  }
};

t.test('origins', async (t) => {
  const full = ['https://cloudicweb.nhi.gov.tw', 'https://eservice.nhi.gov.tw', 'https://myhealthbank.nhi.gov.tw:8443', 'https://efile.tax.nat.gov.tw', `https://iccert.nhi.gov.tw:${served.port}`, `https://localhost:${served.port}`, 'https://partner.example.org'];
  for (const origin of full) {
    const ws = await served.connect({ origin });
    t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001', origin);
    t.equal(await ask(ws, 'GetBasic'), '8013', `${origin}: gets the full protocol (the card layer answers: no reader)`);
    ws.close();
  }
  for (const origin of ['null', 'file://']) {
    const ws = await served.connect({ origin });
    t.equal(await ask(ws, 'GetVersion'), 'GetVersion:0001', `${origin}: version`);
    for (const cmd of ['GetBasic', 'GetRandom', 'EnCrypt?Pwd=123456', 'SecureGetBasicWithParam?Pwd=123456', 'H_Sign?Random=00011234567890123456']) {
      t.equal(await ask(ws, cmd), '9999', `${origin}: ${cmd} refused`);
    }
    ws.close();
  }
  const refused = ['https://evil.example', 'http://cloudicweb.nhi.gov.tw', 'https://nhi.gov.tw.evil.example', 'https://evilgov.tw', 'https://gov.tw', 'chrome-extension://abc', 'garbage'];
  for (const origin of refused) t.equal(await status(served.connect({ origin })), 403, `${origin} refused`);
  t.equal(await status(served.connect({ origin: null })), 403, 'no Origin refused');
  t.match(served.logText(), /"origin":"https:\/\/evil.example".*origin refused/);
});

t.test('config file origins', async (t) => {
  const dir = fs.mkdtempSync(path.join(served.configDir, '..', 'nhiicc-cfg-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ allowOrigins: ['https://from-config.example'] }));
  const other = await serve({ card: noCard, configDir: dir });
  t.teardown(async () => {
    await other.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.equal(await status(other.connect({ origin: 'https://from-config.example' })), 101);
  t.equal(await status(other.connect({ origin: 'https://partner.example.org' })), 403, '--allow-origin of another service does not leak');
});

t.test('Host header (DNS rebinding)', async (t) => {
  for (const host of ['evil.example', `evil.example:${served.port}`, 'iccert.nhi.gov.tw.evil.example', `127.0.0.2:${served.port}`, `localhost:${served.port + 1}`]) {
    t.equal(await status(served.connect({ host })), 421, `upgrade with Host ${host}`);
  }
  for (const host of ['iccert.nhi.gov.tw', `iccert.nhi.gov.tw:${served.port}`, `localhost:${served.port}`, `127.0.0.1:${served.port}`, `[::1]:${served.port}`]) {
    t.equal(await status(served.connect({ host })), 101, `Host ${host} accepted`);
  }
  const page = await get('/', 'evil.example');
  t.equal(page.status, 421);
});

function get(pathname: string, host?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: served.port, path: pathname, ca: served.ca, servername: 'iccert.nhi.gov.tw', headers: { host: host ?? `iccert.nhi.gov.tw:${served.port}` } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

t.test('GET / says 已確認為可信任服務, with security headers', async (t) => {
  const page = await get('/');
  t.equal(page.status, 200);
  t.match(page.body, '已確認為可信任服務');
  t.match(page.body, /trusted service/);
  t.match(page.body, /href="\/ESample.html"/);
  t.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
  t.equal(page.headers['x-content-type-options'], 'nosniff');
});

t.test('frames over 4 KiB close with 1009; binary frames are refused', async (t) => {
  const ws = await served.connect();
  ws.send('x'.repeat(4097));
  t.equal(await closed(ws), 1009);
  const ws2 = await served.connect();
  ws2.send(Buffer.from('GetVersion'), { binary: true });
  t.equal(await closed(ws2), 1003);
  const ws3 = await served.connect();
  t.equal(await ask(ws3, `EnCrypt?Pwd=${'x'.repeat(4000)}`), '8009', 'a frame of 4 KiB or less is served');
  ws3.close();
});

t.test('64 connections, the 65th gets 503', async (t) => {
  const sockets = await Promise.all(Array.from({ length: 64 }, () => served.connect()));
  t.equal(await status(served.connect()), 503);
  for (const s of sockets) s.close();
  await Promise.all(sockets.map(closed));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(await status(served.connect()), 101, 'room again once they closed');
});

t.test('a client that stops answering pings is dropped', async (t) => {
  const ws = await openSocket(served.port, served.ca, { autoPong: false });
  const started = Date.now();
  await closed(ws);
  t.ok(Date.now() - started < 2000, 'dropped after missing a ping');
  const alive = await served.connect();
  await new Promise((r) => setTimeout(r, 700));
  t.equal(alive.readyState, WebSocket.OPEN, 'a client that answers pings stays');
  alive.close();
});

t.test('TLS 1.2 or newer only', async (t) => {
  const err = await new Promise<Error | undefined>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: served.port, servername: 'iccert.nhi.gov.tw', ca: served.ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => {
      s.end();
      resolve(undefined);
    });
    s.on('error', resolve);
  });
  t.ok(err, 'TLS 1.1 handshake fails');
});

t.test('listening sockets are loopback only', async (t) => {
  for (const a of served.service.addresses) t.ok(['127.0.0.1', '::1'].includes(a), `listening on ${a}`);
  t.ok(served.service.addresses.includes('127.0.0.1'));
  const hasIpv6Loopback = Object.values(os.networkInterfaces()).flat().some((i) => i?.address === '::1');
  t.equal(served.service.addresses.includes('::1'), hasIpv6Loopback, '::1 is served where the machine has it');
  if (hasIpv6Loopback) {
    const ws6 = await served.connect({ ipv6: true });
    t.equal(await ask(ws6, 'GetVersion'), 'GetVersion:0001', 'over [::1]');
    ws6.close();
  }
  await t.rejects(startService({ host: '0.0.0.0', port: 0, configDir: served.configDir, card: noCard }), /refusing to listen on 0.0.0.0/);
  await t.rejects(startService({ host: '192.168.1.10', port: 0, configDir: served.configDir, card: noCard }), /refusing/);
  const cli = await runCli(['serve', '--host', '0.0.0.0', '--config-dir', served.configDir]);
  t.equal(cli.code, 1);
  t.match(cli.stderr, /^nhiicc: refusing to listen on 0.0.0.0/);
  const badOrigin = await runCli(['serve', '--port', '0', '--allow-origin', 'not an origin', '--config-dir', served.configDir]);
  t.equal(badOrigin.code, 1);
  t.match(badOrigin.stderr, /not an origin/);
});
