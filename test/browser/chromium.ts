import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

const execFileAsync = promisify(execFile);

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '..', '..', 'test-artifacts');

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  /** Closes the browser and removes its HOME and profile. */
  close(): Promise<void>;
}

/**
 * Debian's Chromium with a fresh HOME whose NSS database trusts only our CA:
 * certificate trust comes from the import, the way an installer sets it up,
 * never from --ignore-certificate-errors. `iccert.nhi.gov.tw` is mapped to
 * loopback inside the browser so /etc/hosts stays untouched.
 * Async child processes only: a virtual card in this process must keep answering.
 */
export async function launchChromium(caFile: string): Promise<TestBrowser> {
  for (const [file, pkg] of [[CHROMIUM, 'chromium'], ['/usr/bin/certutil', 'libnss3-tools']] as const) {
    await fs.access(file).catch(() => {
      throw new Error(`browser tests need ${file}: apt-get install ${pkg} (never a downloaded browser)`);
    });
  }
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-browser-'));
  let context: BrowserContext | undefined;
  try {
    const nssdb = path.join(home, '.pki', 'nssdb');
    await fs.mkdir(nssdb, { recursive: true });
    await execFileAsync('certutil', ['-d', `sql:${nssdb}`, '-N', '--empty-password']);
    await execFileAsync('certutil', ['-d', `sql:${nssdb}`, '-A', '-n', 'nhiicc-test-ca', '-t', 'C,,', '-i', caFile]);
    const userDataDir = path.join(home, 'profile');
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      env: { ...process.env, HOME: home },
      viewport: { width: 1000, height: 1100 },
      locale: 'zh-TW',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--host-resolver-rules=MAP iccert.nhi.gov.tw 127.0.0.1',
      ],
    });
  } catch (err) {
    await context?.close().catch(() => {});
    await fs.rm(home, { recursive: true, force: true });
    throw err;
  }
  const ctx = context;
  return {
    context: ctx,
    newPage: () => ctx.newPage(),
    async close() {
      await ctx.close().catch(() => {});
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot under test-artifacts/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await fs.mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
