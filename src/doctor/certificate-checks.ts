import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SERVER_DNS_NAMES, SERVER_IP_ADDRESSES } from '../config/names.js';
import { CA_FILE, certificateNames, daysLeft as daysUntil, normalizeName, RENEW_WITHIN_DAYS, SERVER_CERT_FILE, SERVER_KEY_FILE, sha256Fingerprint } from '../tls/certificates.js';
import { NSS_STORE, nssStore } from '../trust/nss.js';
import { caInfo, type CaInfo, isTrusted, type TrustContext } from '../trust/trust-store.js';
import { storesFor } from '../trust/trust.js';
import { asAdmin, type Check, failed, passed, skipped, withConfigDir } from './check.js';
import { darwinTrustChecks } from './darwin-trust-checks.js';

/** The names a browser may use for the service: no more (a wider cert is a wider risk), no fewer. */
export const EXPECTED_NAMES: readonly string[] = [...SERVER_DNS_NAMES, ...SERVER_IP_ADDRESSES].map(normalizeName);

export interface CertificateFiles {
  cert?: string;
  key?: string;
  ca?: string;
}

export async function readCertificateFiles(dir: string): Promise<CertificateFiles> {
  const read = (name: string) => fs.readFile(path.join(dir, name), 'utf8').catch(() => undefined);
  const [cert, key, ca] = await Promise.all([read(SERVER_CERT_FILE), read(SERVER_KEY_FILE), read(CA_FILE)]);
  return { ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}), ...(ca !== undefined ? { ca } : {}) };
}

/**
 * `certificate`: pure, so expiry and names are tested with any date.
 * `userDir` is the --config-dir the user typed, repeated in the fixes.
 */
export function certificateCheck(dir: string, files: CertificateFiles, now: Date, userDir?: string, platform: NodeJS.Platform = process.platform): Check {
  const id = 'certificate';
  const renew = `run ${asAdmin(withConfigDir('nhiicc cert renew', userDir), platform)}, then restart the nhiicc service`;
  if (files.cert === undefined && files.key === undefined && files.ca === undefined) {
    return failed(
      id,
      `no certificate in ${dir}`,
      `run ${asAdmin(withConfigDir('nhiicc cert init', userDir), platform)}, then ${asAdmin(withConfigDir('nhiicc cert install', userDir), platform)}`,
    );
  }
  const missing = [[SERVER_CERT_FILE, files.cert], [SERVER_KEY_FILE, files.key], [CA_FILE, files.ca]].filter(([, v]) => v === undefined).map(([n]) => n);
  if (missing.length > 0) return failed(id, `incomplete certificate files in ${dir}: ${missing.join(', ')} missing`, renew);
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(files.cert!);
    ca = new X509Certificate(files.ca!);
  } catch (err) {
    return failed(id, `unreadable certificate in ${dir}: ${(err as Error).message}`, renew);
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const daysLeft = daysUntil(notAfter, now);
  const names = certificateNames(cert);
  const details = { dir, notAfter: notAfter.toISOString(), daysLeft, names, sha256: sha256Fingerprint(cert) };
  const until = notAfter.toISOString().slice(0, 10);

  if (now < notBefore) {
    return failed(id, `the certificate in ${dir} is not valid before ${notBefore.toISOString()}`, `check this computer's date and time; if it is right, ${renew}`, details);
  }
  if (daysLeft < 0 || now > notAfter) return failed(id, `the certificate in ${dir} expired on ${until}`, renew, details);
  if (daysLeft < RENEW_WITHIN_DAYS) {
    return failed(id, `the certificate in ${dir} expires on ${until} (${daysLeft} days left)`, renew, details);
  }
  if ([...names].sort().join(',') !== [...EXPECTED_NAMES].sort().join(',')) {
    return failed(id, `the certificate in ${dir} is for ${names.join(', ') || 'no names'}, not exactly ${EXPECTED_NAMES.join(', ')}`, renew, details);
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    return failed(id, `the server certificate in ${dir} was not issued by the CA in ${CA_FILE} next to it`, renew, details);
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(files.key!))) {
      return failed(id, `${SERVER_KEY_FILE} in ${dir} does not belong to ${SERVER_CERT_FILE}`, renew, details);
    }
  } catch (err) {
    return failed(id, `unreadable ${SERVER_KEY_FILE} in ${dir}: ${(err as Error).message}`, renew, details);
  }
  return passed(id, `certificate in ${dir} valid until ${until} (${daysLeft} days) for ${EXPECTED_NAMES.join(', ')}`, details);
}

/**
 * `trust-system` and one `trust-nss:<folder>` per browser database: a
 * browser with its own database ignores the system store, so each counts.
 */
export async function trustChecks(dir: string, files: CertificateFiles, ctx: TrustContext, userDir?: string): Promise<Check[]> {
  if (files.ca === undefined) return [skipped('trust-system', 'no CA certificate (see the certificate check)')];
  let ca: CaInfo;
  try {
    ca = caInfo(files.ca, path.join(dir, CA_FILE));
  } catch {
    return [skipped('trust-system', `${CA_FILE} in ${dir} is not a certificate`)];
  }
  if (ctx.platform === 'darwin') return darwinTrustChecks(ca, ctx, userDir);
  const install = `run ${asAdmin(withConfigDir('nhiicc cert install', userDir), ctx.platform)}`;
  return [await systemTrustCheck(ca, ctx, install), ...(await nssTrustChecks(ca, ctx, install))];
}

async function systemTrustCheck(ca: CaInfo, ctx: TrustContext, install: string): Promise<Check> {
  const id = 'trust-system';
  const stores = storesFor(ctx).filter((s) => s.name !== NSS_STORE);
  for (const store of stores) {
    if (!(await store.available())) continue;
    const trusted = await isTrusted(store, ca).catch(() => false);
    const details = { store: store.name };
    return trusted
      ? passed(id, `the ${store.label} trusts the nhiicc CA`, details)
      : failed(id, `the ${store.label} does not trust the nhiicc CA in ${ca.file}`, install, details);
  }
  return failed(id, 'no system certificate store found that nhiicc knows how to check', ctx.platform === 'linux' ? `install the ca-certificates package, then ${install}` : install);
}

/** What the NSS store reports for each browser database: doctor asks, it does not look again. */
async function nssTrustChecks(ca: CaInfo, ctx: TrustContext, install: string): Promise<Check[]> {
  return (await nssStore(ctx).trustedIn(ca)).map(({ location: db, trusted, unchecked }) => {
    const id = `trust-nss:${db.replace(/^(sql|dbm):/, '')}`;
    if (unchecked) return failed(id, `cannot check ${db}: ${unchecked.why}`, `${unchecked.fix}, then ${install}`);
    return trusted ? passed(id, `browser database ${db} trusts the nhiicc CA`) : failed(id, `browser database ${db} does not trust the nhiicc CA`, `${install} (close the browser first)`);
  });
}
