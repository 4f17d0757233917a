import net from 'node:net';

/** An IP address that stays on this machine (127.0.0.0/8, ::1, IPv4-mapped 127.x). */
export function isLoopbackAddress(address: string): boolean {
  if (net.isIPv4(address)) return address.startsWith('127.');
  const a = address.toLowerCase();
  return net.isIPv6(a) && (a === '::1' || a.startsWith('::ffff:127.'));
}

/** Also `localhost` and bracketed IPv6, as written in --host. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || isLoopbackAddress(h);
}
