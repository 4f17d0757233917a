/**
 * Chrome/Edge block public sites from reaching loopback (Local Network
 * Access) unless the user clicks a permission prompt; these policies exempt
 * the government pages that talk to wss://iccert.nhi.gov.tw:7777.
 */
export const POLICY_NAMES = ['LocalNetworkAccessAllowedForUrls', 'LoopbackNetworkAllowedForUrls'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/**
 * Enterprise URL patterns, `[*.]` meaning the domain and all subdomains.
 * NHI pages are listed on their own so the intent survives if the broader
 * gov.tw entry (tax filing at efile.tax.nat.gov.tw, other agencies) is ever narrowed.
 */
export const ALLOWED_URL_PATTERNS = ['https://[*.]nhi.gov.tw', 'https://[*.]gov.tw'] as const;

export const MANAGED_NOTICE = [
  'This writes browser enterprise policies (LocalNetworkAccessAllowedForUrls and',
  'LoopbackNetworkAllowedForUrls) so that https://*.gov.tw pages may reach the',
  'nhiicc service on this computer without a permission prompt.',
  'Side effect: Chrome, Chromium and Edge will show "Managed by your organization"',
  'in their menu and settings, as for any machine with policies. Nothing else about',
  'the browser changes; `nhiicc browser-policy uninstall` removes exactly these entries.',
].join('\n');

export interface PolicyChange {
  browser: string;
  /** File, registry key or preferences domain. */
  where: string;
  changed: boolean;
  message: string;
}

/**
 * One OS's browser policies, the same three operations on each (one small
 * file per OS, as the trust stores in src/trust/).
 */
export interface BrowserPolicies {
  install(): Promise<PolicyChange[]>;
  /** Removes our patterns and nothing an administrator put there. */
  uninstall(): Promise<PolicyChange[]>;
  /** Per browser, whether each policy lists our sites (for `doctor`). */
  status(): Promise<PolicyState[]>;
}

export interface PolicyState {
  browser: string;
  where: string;
  /** For each policy, whether all our patterns are in it. */
  policies: Record<PolicyName, boolean>;
}
