import { runChecked, type Runner } from '../util/runner.js';
import { ALLOWED_URL_PATTERNS, POLICY_NAMES, type BrowserPolicies, type PolicyChange, type PolicyName, type PolicyState } from './policy-values.js';

/** Machine-wide mandatory policies; `defaults` takes the plist path without ".plist". */
export const DARWIN_POLICY_DOMAINS = [
  { browser: 'Google Chrome', domain: '/Library/Managed Preferences/com.google.Chrome' },
  { browser: 'Chromium', domain: '/Library/Managed Preferences/org.chromium.Chromium' },
  { browser: 'Microsoft Edge', domain: '/Library/Managed Preferences/com.microsoft.Edge' },
];

/** Parses `defaults read` output for an array: `( "a", b )` over several lines. */
export function parseDefaultsArray(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim().replace(/,$/, ''))
    .filter((line) => line !== '' && line !== '(' && line !== ')')
    .map((line) => (line.startsWith('"') && line.endsWith('"') ? line.slice(1, -1).replace(/\\"/g, '"') : line));
}

async function readArray(runner: Runner, domain: string, policy: string): Promise<string[] | undefined> {
  const result = await runner('defaults', ['read', domain, policy]);
  return result.code === 0 ? parseDefaultsArray(result.stdout) : undefined;
}

const ours = (value: string) => (ALLOWED_URL_PATTERNS as readonly string[]).includes(value);

/** The machine-wide managed preferences of each browser, through `defaults`. */
export function darwinPolicies(runner: Runner): BrowserPolicies {
  return { install: () => install(runner), uninstall: () => uninstall(runner), status: () => status(runner) };
}

async function install(runner: Runner): Promise<PolicyChange[]> {
  const changes: PolicyChange[] = [];
  for (const { browser, domain } of DARWIN_POLICY_DOMAINS) {
    for (const policy of POLICY_NAMES) {
      const existing = await readArray(runner, domain, policy);
      const missing = ALLOWED_URL_PATTERNS.filter((p) => !existing?.includes(p));
      const where = `${domain} ${policy}`;
      if (missing.length === 0) {
        changes.push({ browser, where, changed: false, message: `${where} already lists our sites` });
        continue;
      }
      // -array-add keeps entries an administrator put there.
      const mode = existing === undefined ? '-array' : '-array-add';
      await runChecked(runner, 'defaults', ['write', domain, policy, mode, ...missing]);
      changes.push({ browser, where, changed: true, message: `added ${missing.join(', ')} to ${where}` });
    }
  }
  return changes;
}

async function uninstall(runner: Runner): Promise<PolicyChange[]> {
  const changes: PolicyChange[] = [];
  for (const { browser, domain } of DARWIN_POLICY_DOMAINS) {
    for (const policy of POLICY_NAMES) {
      const existing = await readArray(runner, domain, policy);
      if (!existing?.some(ours)) continue;
      const rest = existing.filter((v) => !ours(v));
      if (rest.length === 0) await runChecked(runner, 'defaults', ['delete', domain, policy]);
      else await runChecked(runner, 'defaults', ['write', domain, policy, '-array', ...rest]);
      const where = `${domain} ${policy}`;
      changes.push({ browser, where, changed: true, message: `removed our sites from ${where}` });
    }
  }
  return changes;
}

async function status(runner: Runner): Promise<PolicyState[]> {
  const states: PolicyState[] = [];
  for (const { browser, domain } of DARWIN_POLICY_DOMAINS) {
    const policies = {} as Record<PolicyName, boolean>;
    for (const policy of POLICY_NAMES) {
      const values = (await readArray(runner, domain, policy)) ?? [];
      policies[policy] = ALLOWED_URL_PATTERNS.every((p) => values.includes(p));
    }
    states.push({ browser, where: domain, policies });
  }
  return states;
}
