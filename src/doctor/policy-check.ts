import { type PolicyOptions, type PolicyState, policyStatus } from '../browser-policy/browser-policy.js';
import { asAdmin, type Check, informational, passed } from './check.js';

/**
 * `browser-policy`: never fails the run. Without the policy the browser still
 * works after the user answers its local-network prompt once.
 */
export async function browserPolicyCheck(options: PolicyOptions & { platform: NodeJS.Platform }): Promise<Check> {
  const id = 'browser-policy';
  const hint = `optional: ${asAdmin('nhiicc browser-policy install', options.platform)} so Chrome/Edge do not ask before NHI pages reach this computer`;
  let states: PolicyState[];
  try {
    states = await policyStatus(options);
  } catch (err) {
    return informational(id, `could not read the browser policies: ${(err as Error).message}`, hint);
  }
  const complete = states.filter((s) => Object.values(s.policies).every(Boolean));
  const details = { browsers: states.map((s) => ({ browser: s.browser, where: s.where, present: Object.values(s.policies).every(Boolean) })) };
  if (states.length === 0) return informational(id, 'no Chromium-family browser found to set the local-network policy for', undefined, details);
  if (complete.length === states.length) return passed(id, `local-network policy present for ${complete.map((s) => s.browser).join(', ')}`, details);
  const missing = states.filter((s) => !complete.includes(s)).map((s) => s.browser);
  return informational(id, `local-network policy not set for ${missing.join(', ')}${complete.length ? ` (set for ${complete.map((s) => s.browser).join(', ')})` : ''}`, hint, details);
}
