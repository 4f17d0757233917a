// The access the .msi gives the folders under %ProgramData%\nhiicc, as SDDL
// for Windows Installer's MsiLockPermissionsEx table (nhiicc.wxs, build.ts).
import { createHash } from 'node:crypto';

/**
 * The SID of a service's virtual account (NT SERVICE\<name>): S-1-5-80 and
 * the SHA-1 of the upper-cased name in UTF-16LE, read as five little-endian
 * numbers. It follows from the name alone, so an ACL can name the account
 * before the service exists (Windows Installer creates folders before it
 * installs services).
 */
export function serviceSid(name: string): string {
  const hash = createHash('sha1').update(Buffer.from(name.toUpperCase(), 'utf16le')).digest();
  return `S-1-5-80-${[0, 4, 8, 12, 16].map((offset) => hash.readUInt32LE(offset)).join('-')}`;
}

const READ_EXECUTE = '0x1200a9';
const MODIFY = '0x1301bf';

/**
 * A protected DACL (P: nothing inherited from %ProgramData%, whose default
 * ACL lets every user create files in its subfolders): SYSTEM and
 * Administrators have full control, the service the access given, and what
 * is created inside inherits the same (OI, CI).
 */
function protectedDacl(service: string, access: string): string {
  return `D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;${access};;;${service})`;
}

/**
 * %ProgramData%\nhiicc (certificate, key, config.json, setup.log): the
 * service reads it, nobody else but SYSTEM and administrators can even list
 * it, and no user can plant a config.json there.
 */
export function dataFolderSddl(serviceName: string): string {
  return protectedDacl(serviceSid(serviceName), READ_EXECUTE);
}

/** %ProgramData%\nhiicc\logs: the service writes and rotates its log there. */
export function logsFolderSddl(serviceName: string): string {
  return protectedDacl(serviceSid(serviceName), MODIFY);
}
