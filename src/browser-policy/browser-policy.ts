import { runCommand, type Runner } from '../util/runner.js';
import { darwinPolicies } from './darwin-policy.js';
import { LINUX_BROWSERS, type LinuxBrowser, linuxPolicies } from './linux-policy.js';
import type { BrowserPolicies, PolicyChange, PolicyState } from './policy-values.js';
import { windowsPolicies } from './windows-policy.js';

export { MANAGED_NOTICE, ALLOWED_URL_PATTERNS, POLICY_NAMES } from './policy-values.js';
export type { BrowserPolicies, PolicyChange, PolicyState } from './policy-values.js';

export interface PolicyOptions {
  platform?: NodeJS.Platform;
  runner?: Runner;
  /** Linux only: which browsers and policy folders to consider. */
  linuxBrowsers?: LinuxBrowser[];
}

/** This OS's browser policies. */
export function policiesFor(options: PolicyOptions = {}): BrowserPolicies {
  const platform = options.platform ?? process.platform;
  const runner = options.runner ?? runCommand;
  if (platform === 'win32') return windowsPolicies(runner);
  if (platform === 'darwin') return darwinPolicies(runner);
  return linuxPolicies(options.linuxBrowsers ?? LINUX_BROWSERS);
}

export const installBrowserPolicy = (options: PolicyOptions = {}): Promise<PolicyChange[]> => policiesFor(options).install();
export const uninstallBrowserPolicy = (options: PolicyOptions = {}): Promise<PolicyChange[]> => policiesFor(options).uninstall();
export const policyStatus = (options: PolicyOptions = {}): Promise<PolicyState[]> => policiesFor(options).status();
