import fs from 'node:fs/promises';
import path from 'node:path';
import { ALLOWED_URL_PATTERNS, POLICY_NAMES, type BrowserPolicies, type PolicyChange, type PolicyState } from './policy-values.js';
import { exists, readIfExists } from '../util/files.js';

export const POLICY_FILE = 'nhiicc.json';

export interface LinuxBrowser {
  name: string;
  /** Chrome's "managed" policy folder for this browser. */
  policyDir: string;
  /** Any of these existing means the browser is installed. */
  installedAt: string[];
}

export const LINUX_BROWSERS: LinuxBrowser[] = [
  { name: 'Google Chrome', policyDir: '/etc/opt/chrome/policies/managed', installedAt: ['/opt/google/chrome'] },
  { name: 'Chromium', policyDir: '/etc/chromium/policies/managed', installedAt: ['/usr/lib/chromium', '/usr/bin/chromium'] },
  {
    name: 'Chromium (Ubuntu/snap)',
    policyDir: '/etc/chromium-browser/policies/managed',
    installedAt: ['/usr/bin/chromium-browser', '/snap/bin/chromium'],
  },
  { name: 'Microsoft Edge', policyDir: '/etc/opt/edge/policies/managed', installedAt: ['/opt/microsoft/msedge'] },
];

/** The whole file is ours: Chrome merges every JSON file in the folder. */
export function policyDocument(): string {
  const doc = Object.fromEntries(POLICY_NAMES.map((name) => [name, [...ALLOWED_URL_PATTERNS]]));
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** One JSON file of ours in each installed browser's managed policy folder. */
export function linuxPolicies(browsers: LinuxBrowser[] = LINUX_BROWSERS): BrowserPolicies {
  return { install: () => install(browsers), uninstall: () => uninstall(browsers), status: () => status(browsers) };
}

async function install(browsers: LinuxBrowser[]): Promise<PolicyChange[]> {
  const changes: PolicyChange[] = [];
  for (const browser of browsers) {
    if (!(await isInstalled(browser))) continue;
    const file = path.join(browser.policyDir, POLICY_FILE);
    if ((await readIfExists(file)) === policyDocument()) {
      changes.push({ browser: browser.name, where: file, changed: false, message: `${file} already in place` });
      continue;
    }
    await guard(file, async () => {
      await fs.mkdir(browser.policyDir, { recursive: true, mode: 0o755 });
      await fs.writeFile(file, policyDocument(), { mode: 0o644 });
    });
    changes.push({ browser: browser.name, where: file, changed: true, message: `wrote ${file}` });
  }
  return changes;
}

async function uninstall(browsers: LinuxBrowser[]): Promise<PolicyChange[]> {
  const changes: PolicyChange[] = [];
  for (const browser of browsers) {
    const file = path.join(browser.policyDir, POLICY_FILE);
    if ((await readIfExists(file)) === undefined) continue;
    // The folders may hold other policies or belong to the browser package: leave them.
    await guard(file, () => fs.rm(file));
    changes.push({ browser: browser.name, where: file, changed: true, message: `removed ${file}` });
  }
  return changes;
}

async function status(browsers: LinuxBrowser[]): Promise<PolicyState[]> {
  const states: PolicyState[] = [];
  for (const browser of browsers) {
    const file = path.join(browser.policyDir, POLICY_FILE);
    const text = await readIfExists(file);
    if (text === undefined && !(await isInstalled(browser))) continue;
    let doc: Record<string, unknown> = {};
    try {
      doc = text === undefined ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      // A damaged file counts as not configured.
    }
    const has = (name: string) => {
      const list = doc[name];
      return Array.isArray(list) && ALLOWED_URL_PATTERNS.every((p) => list.includes(p));
    };
    states.push({
      browser: browser.name,
      where: file,
      policies: { LocalNetworkAccessAllowedForUrls: has('LocalNetworkAccessAllowedForUrls'), LoopbackNetworkAllowedForUrls: has('LoopbackNetworkAllowedForUrls') },
    });
  }
  return states;
}

async function isInstalled(browser: LinuxBrowser): Promise<boolean> {
  for (const p of [browser.policyDir, ...browser.installedAt]) if (await exists(p)) return true;
  return false;
}

async function guard(file: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`cannot change ${file}: permission denied; run with sudo`);
    throw err;
  }
}


