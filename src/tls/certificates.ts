import { X509Certificate } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { SERVER_DNS_NAMES, SERVER_IP_ADDRESSES } from '../config/names.js';
import { isRoot } from '../util/is-root.js';
import { DAY_MS, HOUR_MS } from '../util/time.js';

export interface ServerTls {
  key: string;
  cert: string;
  ca: string;
  notAfter: Date;
  dir: string;
}

export const CA_FILE = 'ca.crt';
export const SERVER_CERT_FILE = 'server.crt';
export const SERVER_KEY_FILE = 'server.key';

/** Under the 825 days Apple and browsers accept for TLS server certificates. */
export const VALIDITY_DAYS = 820;
/** Tolerates a clock that is slightly behind when the cert is first used. */
const BACKDATE_MS = HOUR_MS;
/** The service warns, and doctor fails, when this few days are left. */
export const RENEW_WITHIN_DAYS = 30;

/** Whole days from `now` to `notAfter`; negative once it has passed. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** Loads the server certificate, creating CA and certificate on first use. */
export async function ensureServerCertificate(configDir: string): Promise<ServerTls> {
  const existing = await loadServerTls(configDir);
  if (existing) return existing;
  return renewCertificates(configDir);
}

/**
 * Replaces CA and server certificate with new ones. Whoever trusted the old
 * CA must untrust it and trust the new one (the trust module does both).
 */
export async function renewCertificates(configDir: string): Promise<ServerTls> {
  await fs.mkdir(configDir, { recursive: true, mode: 0o700 });
  const { caPem, certPem, keyPem } = await issueServerCertificate();
  // Key first: a crash must not leave a certificate whose key is missing.
  await writeFileWithMode(path.join(configDir, SERVER_KEY_FILE), keyPem, 0o600);
  await writeFileWithMode(path.join(configDir, SERVER_CERT_FILE), certPem, 0o644);
  await writeFileWithMode(path.join(configDir, CA_FILE), caPem, 0o644);
  return toServerTls(configDir, keyPem, certPem, caPem);
}

export interface IssueOptions {
  notBefore?: Date;
  notAfter?: Date;
  /** Tests make certificates with other names to see them refused. */
  dnsNames?: readonly string[];
  ips?: readonly string[];
}

/** A fresh CA and the server certificate it signs; the CA key is dropped before returning. */
export async function issueServerCertificate(options: IssueOptions = {}): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + VALIDITY_DAYS * DAY_MS);
  const dnsNames = options.dnsNames ?? SERVER_DNS_NAMES;
  const ips = options.ips ?? SERVER_IP_ADDRESSES;
  // The CA key stays inside this function: once the server cert is signed it
  // goes out of scope, so no one (not even us) can ever sign with it again.
  // Loaded only when a certificate is made: the X.509 libraries cost the
  // long-running service several MB it would otherwise never use.
  const { createTransientCa } = await import('./certificate-authority.js');
  const { generate } = await import('selfsigned');
  const ca = await createTransientCa(notBefore, notAfter);
  const server = await generate([{ name: 'commonName', value: dnsNames[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return { caPem: ca.certPem, certPem: server.cert, keyPem: server.private };
}

async function loadServerTls(dir: string): Promise<ServerTls | undefined> {
  const [key, cert, ca] = await Promise.all(
    [SERVER_KEY_FILE, SERVER_CERT_FILE, CA_FILE].map((name) => readIfExists(path.join(dir, name))),
  );
  if (key === undefined && cert === undefined && ca === undefined) return undefined;
  if (key === undefined || cert === undefined || ca === undefined) {
    throw new Error(
      `incomplete certificate files in ${dir} (need ${SERVER_KEY_FILE}, ${SERVER_CERT_FILE} and ${CA_FILE}); run \`nhiicc cert renew\``,
    );
  }
  return toServerTls(dir, key, cert, ca);
}

function toServerTls(dir: string, key: string, cert: string, ca: string): ServerTls {
  return { key, cert, ca, notAfter: new Date(new X509Certificate(cert).validTo), dir };
}

export interface CertificateDescription {
  subject: string;
  issuer: string;
  subjectAltNames: string[];
  serialNumber: string;
  sha256: string;
  sha1: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificatesDescription {
  dir: string;
  server: CertificateDescription;
  ca: CertificateDescription;
}

/** What `nhiicc cert status` shows. Throws when the files are not there. */
export async function describeCertificate(dir: string): Promise<CertificatesDescription> {
  const tls = await loadServerTls(dir);
  if (!tls) throw new Error(`no certificate in ${dir}; run \`nhiicc cert init\``);
  return { dir, server: describePem(tls.cert), ca: describePem(tls.ca) };
}

export function describePem(pem: string): CertificateDescription {
  const x = new X509Certificate(pem);
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    subjectAltNames: certificateNames(x),
    serialNumber: x.serialNumber.toLowerCase(),
    sha256: sha256Fingerprint(x),
    sha1: x.fingerprint.replace(/:/g, '').toLowerCase(),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
  };
}

/**
 * The certificate's names as a browser matches them (`localhost`, `::1`):
 * OpenSSL prints them as `DNS:localhost` and `IP Address:0:0:0:0:0:0:0:1`.
 */
export function certificateNames(x: X509Certificate): string[] {
  if (!x.subjectAltName) return [];
  return x.subjectAltName.split(', ').map((entry) => {
    const m = /^(DNS|IP Address):(.*)$/.exec(entry);
    return m ? normalizeName(m[2]!) : entry;
  });
}

/** Host names in lower case, IPv6 addresses in their short form. */
export function normalizeName(name: string): string {
  if (net.isIPv6(name)) return new URL(`http://[${name}]/`).hostname.slice(1, -1);
  return name.toLowerCase();
}

/** The SHA-256 fingerprint in lower-case hex, as `cert status` and doctor show it. */
export function sha256Fingerprint(x: X509Certificate): string {
  return x.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** A line for the service log when the certificate needs renewing soon. */
export function expiryWarning(tls: Pick<ServerTls, 'notAfter' | 'dir'>, now: Date = new Date()): string | undefined {
  const left = daysLeft(tls.notAfter, now);
  if (left > RENEW_WITHIN_DAYS) return undefined;
  const when = tls.notAfter.toISOString().slice(0, 10);
  const state = left < 0 ? `expired on ${when}` : `expires on ${when} (${left} days left)`;
  return `the TLS certificate in ${tls.dir} ${state}; run \`nhiicc cert renew\` to replace it`;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Creates the file with its final mode so a private key is never readable by
 * others, not even for an instant; an existing file is replaced, not reused,
 * because its old mode may be looser. The file it replaces passes on its
 * owner, group and group bits (never bits for others): an installer that let
 * the service's group read the key must not lose that on `nhiicc cert renew`.
 */
async function writeFileWithMode(file: string, content: string, mode: number): Promise<void> {
  const previous = await fs.stat(file).catch(() => undefined);
  await fs.rm(file, { force: true });
  const handle = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    await handle.writeFile(content);
    // Owner and others bits are ours to choose; group bits carry over.
    const finalMode = previous ? (mode & 0o707) | (previous.mode & 0o070) : mode;
    if (previous && isRoot()) await handle.chown(previous.uid, previous.gid);
    // The umask may have narrowed the mode; widening a public file is harmless.
    if (finalMode !== 0o600 || previous) await handle.chmod(finalMode);
  } finally {
    await handle.close();
  }
}
