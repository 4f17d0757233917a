/**
 * The names nhiicc shares with NHI pages, browsers and the operating
 * system, defined once: the certificate, the Host and Origin checks, the
 * hosts file, doctor and the CLI's help all read them from here.
 */

/** The name NHI pages connect to; public DNS resolves it to 127.0.0.1 (docs/protocol.md §1). */
export const NHI_HOST = 'iccert.nhi.gov.tw';

/** The port NHI pages connect to (docs/protocol.md §1). */
export const NHI_PORT = 7777;

/** The only names a browser will ever need our certificate for. */
export const SERVER_DNS_NAMES = [NHI_HOST, 'localhost'] as const;
export const SERVER_IP_ADDRESSES = ['127.0.0.1', '::1'] as const;

/** The same names as a Host header or an origin writes them (IPv6 in brackets). */
export const SERVER_HOSTS: readonly string[] = [...SERVER_DNS_NAMES, ...SERVER_IP_ADDRESSES.map((a) => (a.includes(':') ? `[${a}]` : a))];

/** nhiicc's name on macOS: its launchd job (launchd/tw.nhiicc.plist) and package; its per-user login item adds `.trust`. */
export const LAUNCHD_LABEL = 'tw.nhiicc';
