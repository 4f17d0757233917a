import net from 'node:net';

/**
 * DER encoding of the X.509 NameConstraints extension value (RFC 5280
 * §4.2.1.10). @peculiar/x509 has no class for it, and the extension is what
 * makes our per-installation CA harmless even if its key ever leaked: it can
 * only vouch for the names below.
 */
export const NAME_CONSTRAINTS_OID = '2.5.29.30';

export interface PermittedNames {
  dns: string[];
  /** CIDR blocks, e.g. "127.0.0.1/32", "::1/128". */
  ip: string[];
}

export function encodeNameConstraints(permitted: PermittedNames): Uint8Array<ArrayBuffer> {
  const subtrees = [
    ...permitted.dns.map((name) => generalSubtree(tlv(0x82, Buffer.from(name, 'ascii')))),
    ...permitted.ip.map((cidr) => generalSubtree(tlv(0x87, ipWithMask(cidr)))),
  ];
  // permittedSubtrees [0] IMPLICIT GeneralSubtrees: the SEQUENCE OF tag becomes 0xA0.
  return new Uint8Array(tlv(0x30, tlv(0xa0, Buffer.concat(subtrees))));
}

function generalSubtree(base: Buffer): Buffer {
  // minimum defaults to 0 and maximum is absent, so DER leaves both out.
  return tlv(0x30, base);
}

function ipWithMask(cidr: string): Buffer {
  const [address = '', bitsText] = cidr.split('/');
  const family = net.isIP(address);
  if (family === 0) throw new Error(`not an IP address: ${cidr}`);
  const bytes = family === 4 ? ipv4Bytes(address) : ipv6Bytes(address);
  const bits = bitsText === undefined ? bytes.length * 8 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) throw new Error(`bad prefix length: ${cidr}`);
  const mask = Buffer.alloc(bytes.length);
  for (let i = 0; i < bits; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  return Buffer.concat([bytes, mask]);
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  const out = Buffer.alloc(16);
  for (const [i, group] of all.entries()) out.writeUInt16BE(parseInt(group, 16), i * 2);
  return out;
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
