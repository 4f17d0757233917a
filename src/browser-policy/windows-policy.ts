import { runChecked, type Runner } from '../util/runner.js';
import { ALLOWED_URL_PATTERNS, POLICY_NAMES, type BrowserPolicies, type PolicyChange, type PolicyName, type PolicyState } from './policy-values.js';

export const WINDOWS_POLICY_KEYS = [
  { browser: 'Google Chrome', key: 'HKLM\\SOFTWARE\\Policies\\Google\\Chrome' },
  { browser: 'Chromium', key: 'HKLM\\SOFTWARE\\Policies\\Chromium' },
  { browser: 'Microsoft Edge', key: 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge' },
];

interface ListValue {
  name: string;
  data: string;
}

/**
 * A list policy is a key whose values are named 1, 2, 3…; an administrator
 * may already have entries there, so ours take free numbers and uninstall
 * deletes only values holding our patterns.
 */
async function readList(runner: Runner, key: string): Promise<ListValue[]> {
  const result = await runner('reg', ['query', key]);
  if (result.code !== 0) return [];
  const values: ListValue[] = [];
  for (const line of result.stdout.split(/\r?\n/)) {
    const match = /^\s+(\S+)\s+REG_SZ\s+(.*?)\s*$/.exec(line);
    if (match) values.push({ name: match[1]!, data: match[2]! });
  }
  return values;
}

/** The machine-wide policy keys of each browser in the registry, through `reg`. */
export function windowsPolicies(runner: Runner): BrowserPolicies {
  return { install: () => install(runner), uninstall: () => uninstall(runner), status: () => status(runner) };
}

async function install(runner: Runner): Promise<PolicyChange[]> {
  const changes: PolicyChange[] = [];
  for (const { browser, key } of WINDOWS_POLICY_KEYS) {
    for (const policy of POLICY_NAMES) {
      const listKey = `${key}\\${policy}`;
      const existing = await readList(runner, listKey);
      const missing = ALLOWED_URL_PATTERNS.filter((p) => !existing.some((v) => v.data === p));
      const used = new Set(existing.map((v) => v.name));
      let next = 1;
      for (const pattern of missing) {
        while (used.has(String(next))) next++;
        used.add(String(next));
        await runChecked(runner, 'reg', ['add', listKey, '/v', String(next), '/t', 'REG_SZ', '/d', pattern, '/f']);
      }
      changes.push({
        browser,
        where: listKey,
        changed: missing.length > 0,
        message: missing.length > 0 ? `added ${missing.join(', ')} to ${listKey}` : `${listKey} already lists our sites`,
      });
    }
  }
  return changes;
}

async function uninstall(runner: Runner): Promise<PolicyChange[]> {
  const changes: PolicyChange[] = [];
  for (const { browser, key } of WINDOWS_POLICY_KEYS) {
    for (const policy of POLICY_NAMES) {
      const listKey = `${key}\\${policy}`;
      const ours = (await readList(runner, listKey)).filter((v) => (ALLOWED_URL_PATTERNS as readonly string[]).includes(v.data));
      if (ours.length === 0) continue;
      for (const value of ours) await runChecked(runner, 'reg', ['delete', listKey, '/v', value.name, '/f']);
      changes.push({ browser, where: listKey, changed: true, message: `removed ${ours.map((v) => v.data).join(', ')} from ${listKey}` });
    }
  }
  return changes;
}

async function status(runner: Runner): Promise<PolicyState[]> {
  const states: PolicyState[] = [];
  for (const { browser, key } of WINDOWS_POLICY_KEYS) {
    const policies = {} as Record<PolicyName, boolean>;
    for (const policy of POLICY_NAMES) {
      const values = await readList(runner, `${key}\\${policy}`);
      policies[policy] = ALLOWED_URL_PATTERNS.every((p) => values.some((v) => v.data === p));
    }
    states.push({ browser, where: key, policies });
  }
  return states;
}
