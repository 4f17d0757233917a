import fs from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { WebSocketServer } from 'ws';
import { PcscUnavailableError } from '../../src/pcsc/errors.js';
import { createLogger } from '../../src/log.js';
import type { CardAccess } from '../../src/pcsc/card-readers.js';
import { type RunningService, startService } from '../../src/server/service.js';
import { ensureServerCertificate } from '../../src/tls/certificates.js';
import { acquireLock } from '../bed/lock.js';
import { launchChromium, screenshot } from './chromium.js';

/**
 * ESample.html opened from disk, the way the manuals tell users to check an
 * installation: it must reach wss://iccert.nhi.gov.tw:7777/echo, so this
 * test holds the machine-wide lock on port 7777.
 */

const GREEN = 'rgb(26, 127, 55)';
const RED = 'rgb(207, 34, 46)';
const HTML_DIR = path.resolve(import.meta.dirname, '..', '..', 'html');

// File pages may only ask GetVersion, so no card or pcscd is needed here.
const noCard: CardAccess = {
  status: () => ({ available: false, reason: 'no PC/SC in this test', readers: [] }),
  withCard: async () => {
    throw new PcscUnavailableError('no PC/SC in this test');
  },
  close: async () => {},
};

const release = await acquireLock('port-7777');
t.teardown(release);

const busy = await new Promise<boolean>((resolve) => {
  const s = net.connect(7777, '127.0.0.1');
  s.once('connect', () => {
    s.destroy();
    resolve(true);
  });
  s.once('error', () => resolve(false));
});
if (busy) throw new Error('something outside the tests listens on 127.0.0.1:7777: stop it first');

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-esample-file-'));
t.teardown(() => fs.rm(work, { recursive: true, force: true }));
const configDir = path.join(work, 'config');
const tls = await ensureServerCertificate(configDir);
// What an installer does: the page and its script side by side in a folder of their own.
const pageDir = path.join(work, 'NHIICC', 'html');
await fs.mkdir(pageDir, { recursive: true });
for (const f of ['ESample.html', 'esample.js']) await fs.copyFile(path.join(HTML_DIR, f), path.join(pageDir, f));
const pageUrl = pathToFileURL(path.join(pageDir, 'ESample.html')).href;

const browser = await launchChromium(path.join(tls.dir, 'ca.crt'));
t.teardown(() => browser.close());

let service: RunningService | undefined;
t.teardown(async () => {
  await service?.close();
});

const page = await browser.newPage();
const color = () => page.locator('#status').evaluate((e) => getComputedStyle(e).color);

t.test('no service on 7777: red, with the likely causes in order and nhiicc doctor', async (t) => {
  await page.goto(pageUrl);
  await page.locator('#status', { hasText: 'Not connected' }).waitFor({ timeout: 15_000 });
  t.equal(await color(), RED);
  t.match(await page.locator('#status-detail').textContent(), 'wss://iccert.nhi.gov.tw:7777/echo');
  t.ok(await page.locator('#causes-file').isVisible());
  t.ok(await page.locator('#causes-served').isHidden());
  const causes = await page.locator('#causes-file > li').evaluateAll((lis) => lis.map((li) => li.id));
  t.same(causes, ['cause-not-running', 'cause-cert', 'cause-name', 'cause-port', 'cause-lna'], 'service first, browser permission last');
  const text = await page.locator('#trouble').innerText();
  t.match(text, /健保卡元件服務未執行 · The service is not running/);
  t.match(text, 'https://iccert.nhi.gov.tw:7777');
  t.match(text, '127.0.0.1 iccert.nhi.gov.tw');
  t.match(text, /mLNHIICC/);
  t.match(text, /Mac: during the install or at your next login, macOS asks for your login password[\s\S]*sudo nhiicc cert install[\s\S]*“Always Trust”/, 'what a Mac user sees and does');
  t.match(text, /Chrome 142/);
  t.match(text, /nhiicc doctor/);
  // Traditional Chinese before English in every cause.
  for (const li of await page.locator('#causes-file > li').allInnerTexts()) {
    t.ok(/[\u4e00-\u9fff]/.test(li.split('\n')[0] ?? ''), 'zh-Hant leads');
  }
  t.ok(await page.locator('#file-note').isVisible(), 'says card commands need the served page');
  t.equal(await page.locator('#served-link').getAttribute('href'), 'https://iccert.nhi.gov.tw:7777/ESample.html');
  await screenshot(page, 'esample-file-no-service');
});

t.test('service started on 7777: Retry turns the line green; only GetVersion is offered', async (t) => {
  service = await startService({ host: '127.0.0.1', port: 7777, configDir, card: noCard, logger: createLogger('silent') });
  await page.click('#retry');
  await page.locator('#status', { hasText: 'Connected to server' }).waitFor({ timeout: 15_000 });
  t.equal(await page.locator('#status').textContent(), 'Connected to server');
  t.equal(await color(), GREEN, 'green');
  t.ok(await page.locator('#trouble').isHidden());
  for (const id of ['#btn-basic', '#btn-random', '#btn-sign', '#btn-encrypt']) t.ok(await page.locator(id).isDisabled(), `${id} disabled on a file page`);
  await page.click('#btn-version');
  await page.locator('#result', { hasText: '協定版本 Protocol version' }).waitFor();
  t.match(await page.locator('#raw').innerText(), 'GetVersion:0001');
  await screenshot(page, 'esample-file-connected');
});

t.test('service stopped again: red within seconds, then green by itself when it is back', async (t) => {
  await service!.close();
  service = undefined;
  await page.locator('#status', { hasText: 'Not connected' }).waitFor({ timeout: 15_000 });
  t.ok(await page.locator('#cause-not-running').isVisible());
  service = await startService({ host: '127.0.0.1', port: 7777, configDir, card: noCard, logger: createLogger('silent') });
  // The page retries every 5 s on its own.
  await page.locator('#status', { hasText: 'Connected to server' }).waitFor({ timeout: 15_000 });
  t.equal(await color(), GREEN);
});

t.test('something else on 7777 answers oddly: red, pointing at the other program', async (t) => {
  await service!.close();
  service = undefined;
  // Stands in for another component holding the port, with a certificate the browser trusts.
  const server = https.createServer({ key: tls.key, cert: tls.cert });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', () => ws.send('9999')));
  await new Promise<void>((resolve) => server.listen(7777, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => server.close(resolve));
  });
  await page.locator('#status', { hasText: 'Not connected' }).waitFor({ timeout: 15_000 });
  await page.locator('#trouble-answer').waitFor({ state: 'visible', timeout: 15_000 });
  t.equal(await page.locator('#trouble-reply').textContent(), '9999');
  t.match(await page.locator('#trouble-answer').innerText(), /另一個程式|別的程式占用連接埠 7777/);
  t.ok(await page.locator('#cause-port').isVisible());
  await screenshot(page, 'esample-file-other-program');
});
