import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Page } from 'playwright-core';
import t from 'tap';
import { startTestBed } from '../bed/testbed.js';
import { loadProfile } from '../helpers/profiles.js';
import { createLogger } from '../../src/log.js';
import { startService } from '../../src/server/service.js';
import { launchChromium, screenshot } from './chromium.js';

/**
 * The diagnostic page served by the daemon, in a real Chromium that trusts
 * the daemon's CA through NSS, reading a virtual card through real pcscd.
 */

const GREEN = 'rgb(26, 127, 55)';
const RED = 'rgb(207, 34, 46)';
const DOCS_SHOT = path.resolve(import.meta.dirname, '..', '..', 'docs', 'esample.png');

const chen = loadProfile('chen');
const bed = await startTestBed();
t.teardown(() => bed.stop());
const card = bed.card(chen);
await card.insert();

const configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-esample-'));
t.teardown(() => fs.rm(configDir, { recursive: true, force: true }));
// A SAM address that refuses at once, so H_Sign answers quickly whatever signs it.
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
const service = await startService({ host: '127.0.0.1', port: 0, configDir, sam: '127.0.0.1:1', logger: createLogger('warn', logSink) });
let serviceOpen = true;
t.teardown(async () => {
  if (serviceOpen) await service.close();
});
const ca = await fs.readFile(path.join(configDir, 'ca.crt'), 'utf8');
const base = `https://iccert.nhi.gov.tw:${service.port}`;

const browser = await launchChromium(path.join(configDir, 'ca.crt'));
t.teardown(() => browser.close());

async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
await waitFor('the service to see the card', () => service.card.status().readers.some((r) => r.cardPresent));

/** A request from outside any browser, trusting the daemon's CA (Host is one of ours). */
function get(urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: service.port, path: urlPath, ca, servername: 'iccert.nhi.gov.tw', headers: { host: `iccert.nhi.gov.tw:${service.port}`, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const color = (page: Page, selector: string) => page.locator(selector).evaluate((e) => getComputedStyle(e).color);

const page = await browser.newPage();
const pageErrors: string[] = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => {
  if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) pageErrors.push(m.text());
});

t.test('the page loads from the daemon with its security headers and connects', async (t) => {
  const response = await page.goto(`${base}/ESample.html`);
  t.equal(response?.status(), 200);
  const csp = (await response!.allHeaders())['content-security-policy'] ?? '';
  t.match(csp, /frame-ancestors 'none'/);
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from the daemon, no inline');
  t.notMatch(csp, /script-src[^;]*unsafe/);
  await page.locator('#status', { hasText: 'Connected to server' }).waitFor({ timeout: 15_000 });
  t.equal(await color(page, '#status'), GREEN, 'the status line is green');
  t.ok(await page.locator('#trouble').isHidden(), 'no trouble list');
  t.ok(await page.locator('#file-note').isHidden(), 'no file-page note');
  t.match(await page.locator('#status-detail').textContent(), `wss://iccert.nhi.gov.tw:${service.port}/echo`);

  const js = await get('/esample.js');
  t.equal(js.status, 200);
  t.match(String(js.headers['content-type']), /^text\/javascript/);
  t.match(String(js.headers['content-security-policy']), /frame-ancestors 'none'/);
  t.equal(js.headers['x-content-type-options'], 'nosniff');

  const root = await get('/');
  t.match(root.body, 'href="/ESample.html"', 'linked from the trusted-service page');
});

t.test('the live panel shows the reader with a card', async (t) => {
  const row = page.locator('#readers tr', { hasText: bed.readerName(0) });
  await row.locator('td', { hasText: '已插卡' }).waitFor({ timeout: 10_000 });
  t.match(await page.locator('#live').innerText(), /nhiicc \d+\.\d+\.\d+/);
  t.match(await page.locator('#live').innerText(), /憑證到期 Certificate expires\s+\d{4}-\d\d-\d\d/);
});

t.test('讀取健保卡 shows the name; the ID stays masked everywhere until "show"', async (t) => {
  await page.click('#btn-basic');
  await page.locator('#result', { hasText: chen.name }).waitFor({ timeout: 15_000 });
  const masked = `${chen.idNo.slice(0, 3)}****${chen.idNo.slice(-3)}`;
  t.match(await page.locator('#result').innerText(), masked);
  t.match(await page.locator('#raw').innerText(), `GetBasic:${chen.cardNo},${masked},${chen.name},`);
  t.notMatch(await page.content(), chen.idNo, 'the full ID is nowhere in the DOM');
  t.match(await page.locator('#result').innerText(), /民國 70 年 01 月 01 日 \(1981-01-01\)/);
  // The panel learns the card is an NHI card once it was read.
  await page.locator('#readers td', { hasText: '是 yes' }).waitFor({ timeout: 5_000 });
  const shot = await screenshot(page, 'esample-served-card');
  // The committed README picture changes only on request: every run differs
  // (port, clock), and a machine without CJK fonts would draw boxes.
  if (process.env.NHIICC_DOCS_SCREENSHOT === '1') await fs.copyFile(shot, DOCS_SHOT);

  await page.click('#btn-show-id');
  t.match(await page.locator('#result').innerText(), chen.idNo);
  t.match(await page.locator('#raw').innerText(), `GetBasic:${chen.cardNo},${chen.idNo},`);
  await page.click('#btn-show-id');
  t.notMatch(await page.content(), chen.idNo, 'hidden again');
});

t.test('GetVersion, GetRandom, H_Sign and EnCrypt show the reply and its meaning', async (t) => {
  await page.click('#btn-version');
  await page.locator('#result', { hasText: '協定版本 Protocol version' }).waitFor();
  t.match(await page.locator('#result').innerText(), '0001');

  await page.click('#btn-random');
  await page.locator('#result', { hasText: '亂數 Random' }).waitFor();
  const random = /\d{16}/.exec(await page.locator('#result').innerText())?.[0];
  t.ok(random, 'sixteen digits');

  await page.click('#btn-sign');
  await page.locator('#raw', { hasText: `H_Sign?Random=0001${random}` }).waitFor();
  await page.locator('#result', { hasText: 'H_Sign' }).waitFor();
  await page.waitForFunction(() => !(document.getElementById('btn-sign') as HTMLButtonElement).disabled, undefined, { timeout: 30_000 });
  // No SAM is reachable here: the reply is a code, shown with its meaning.
  const sign = await page.locator('#result').innerText();
  t.match(sign, /4061 無法連線到健保署 SAM 服務 · cannot connect to the NHI SAM service|簽章 Signature/);

  await page.fill('#pwd', '123');
  await page.click('#btn-encrypt');
  await page.locator('#result .code', { hasText: '8009' }).waitFor();
  t.match(await page.locator('#result').innerText(), /密碼長度錯誤.*invalid password length/);
  t.match(await page.locator('#raw').innerText(), 'EnCrypt?Pwd=***');

  await page.fill('#pwd', 'secret99');
  await page.press('#pwd', 'Enter');
  await page.locator('#result', { hasText: '加密後的密碼 Encrypted password' }).waitFor({ timeout: 15_000 });
  t.match(await page.locator('#result').innerText(), /[0-9A-F]{16,}/);
  t.notMatch(await page.content(), 'secret99', 'the password is never shown');
});

t.test('/status.json: same-origin only, no personal data', async (t) => {
  const fromPage = await page.evaluate(async () => {
    const r = await fetch('/status.json');
    return { status: r.status, text: await r.text() };
  });
  t.equal(fromPage.status, 200);
  const body = JSON.parse(fromPage.text) as { version: string; pcsc: { available: boolean; readers: Array<Record<string, unknown>> }; certificate: { notAfter: string } };
  t.equal(body.pcsc.available, true);
  t.same(body.pcsc.readers.find((r) => r.name === bed.readerName(0)), { name: bed.readerName(0), cardPresent: true, nhiCard: true });
  t.ok(!Number.isNaN(Date.parse(body.certificate.notAfter)), 'certificate expiry');
  for (const secret of [chen.name, chen.idNo, chen.cardNo, chen.birthDateRoc]) t.notMatch(fromPage.text, secret, 'no personal data');

  const crossSite = await get('/status.json', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
  t.equal(crossSite.status, 403, 'another site is refused');
  t.notMatch(crossSite.body, bed.readerName(0));
  t.equal((await get('/status.json', { origin: 'https://evil.example' })).status, 403, 'a foreign Origin alone is refused');
  t.equal((await get('/status.json', { 'sec-fetch-site': 'same-site' })).status, 403, 'same-site is not same-origin');
  t.equal((await get('/status.json', { origin: 'null' })).status, 403, 'a file page is refused');
  t.equal((await get('/status.json', { origin: `https://iccert.nhi.gov.tw:${service.port}`, 'sec-fetch-site': 'same-origin' })).status, 200);
  t.equal((await get('/status.json')).status, 200, 'a tool such as curl may ask');

  // A real public page: granted the local-network permission (so Chromium's
  // own loopback guard does not hide the result), its requests reach the
  // daemon, which refuses them on Origin and on Sec-Fetch-Site.
  const other = await browser.newPage();
  t.teardown(() => other.close());
  await browser.context.grantPermissions(['local-network-access'], { origin: 'https://evil.example' });
  await other.route('https://evil.example/', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>other site</title>' }));
  await other.goto('https://evil.example/');
  const before = logLines.length;
  const attempts = await other.evaluate(async (url) => {
    const out: string[] = [];
    for (const mode of ['cors', 'no-cors'] as const) {
      try {
        const r = await fetch(url, { mode });
        out.push(`${mode}: ${r.type} ${r.status}`);
      } catch (e) {
        out.push(`${mode}: ${String(e)}`);
      }
    }
    return out;
  }, `${base}/status.json`);
  t.match(attempts[0], /TypeError/, 'the other site cannot read it');
  t.match(attempts[1], /TypeError|opaque 0/, 'nor embed it');
  const refused = logLines.slice(before).map((l) => JSON.parse(l) as { msg: string; origin?: string; site?: string }).filter((l) => l.msg === 'status refused');
  t.ok(refused.some((l) => l.origin === 'https://evil.example'), 'the daemon refused the cross-origin fetch');
  t.ok(refused.some((l) => l.origin === '(none)' && l.site === 'cross-site'), 'and the no-cors one, which carries no Origin');
});

t.test('card removed: GetBasic shows the 8013 explanation', async (t) => {
  await card.remove();
  await page.locator('#readers td', { hasText: '無卡 none' }).waitFor({ timeout: 10_000 });
  await page.click('#btn-basic');
  await page.locator('#result .code', { hasText: '8013' }).waitFor({ timeout: 15_000 });
  t.match(await page.locator('#result').innerText(), /無法存取健保卡：請確認讀卡機已連接且已插入健保卡 · cannot access the NHI card/);
  await screenshot(page, 'esample-served-no-card');
});

t.test('daemon stopped: red state with the "start the service" fix', async (t) => {
  serviceOpen = false;
  await service.close();
  await page.locator('#status', { hasText: 'Not connected' }).waitFor({ timeout: 15_000 });
  t.equal(await color(page, '#status'), RED, 'the status line is red');
  t.ok(await page.locator('#cause-stopped-served').isVisible(), 'says the service stopped');
  t.match(await page.locator('#trouble').innerText(), /服務已停止或重新啟動 · The service stopped or restarted/);
  t.match(await page.locator('#trouble').innerText(), /nhiicc doctor/);
  await page.locator('#live', { hasText: '無法取得服務狀態' }).waitFor({ timeout: 10_000 });
  await screenshot(page, 'esample-served-stopped');
});

t.test('no script errors on the page', async (t) => {
  t.same(pageErrors, []);
});
