import { runCommand, type Runner } from '../util/runner.js';
import { darwinPolicyStatus, installDarwinPolicies, uninstallDarwinPolicies } from './darwin-policy.js';
import { installLinuxPolicies, LINUX_BROWSERS, linuxPolicyStatus, uninstallLinuxPolicies, type LinuxBrowser } from './linux-policy.js';
import type { PolicyChange, PolicyState } from './policy-values.js';
import { installWindowsPolicies, uninstallWindowsPolicies, windowsPolicyStatus } from './windows-policy.js';

export { MANAGED_NOTICE, ALLOWED_URL_PATTERNS, POLICY_NAMES } from './policy-values.js';
export type { PolicyChange, PolicyState } from './policy-values.js';

export interface PolicyOptions {
  platform?: NodeJS.Platform;
  runner?: Runner;
  /** Linux only: which browsers and policy folders to consider. */
  linuxBrowsers?: LinuxBrowser[];
}

export async function installBrowserPolicy(options: PolicyOptions = {}): Promise<PolicyChange[]> {
  const { platform, runner, browsers } = resolve(options);
  if (platform === 'win32') return installWindowsPolicies(runner);
  if (platform === 'darwin') return installDarwinPolicies(runner);
  return installLinuxPolicies(browsers);
}

export async function uninstallBrowserPolicy(options: PolicyOptions = {}): Promise<PolicyChange[]> {
  const { platform, runner, browsers } = resolve(options);
  if (platform === 'win32') return uninstallWindowsPolicies(runner);
  if (platform === 'darwin') return uninstallDarwinPolicies(runner);
  return uninstallLinuxPolicies(browsers);
}

/** Per browser, whether each policy lists our sites (for `doctor`). */
export async function policyStatus(options: PolicyOptions = {}): Promise<PolicyState[]> {
  const { platform, runner, browsers } = resolve(options);
  if (platform === 'win32') return windowsPolicyStatus(runner);
  if (platform === 'darwin') return darwinPolicyStatus(runner);
  return linuxPolicyStatus(browsers);
}

function resolve(options: PolicyOptions) {
  return {
    platform: options.platform ?? process.platform,
    runner: options.runner ?? runCommand,
    browsers: options.linuxBrowsers ?? LINUX_BROWSERS,
  };
}
