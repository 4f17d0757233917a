import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProfile } from '../card/operations.js';
import { POLKIT_RULE, SERVICE_USER } from '../config/paths.js';
import { abiFor } from '../pcsc/abi/index.js';
import type { CardAccess } from '../pcsc/card-readers.js';
import { hex, NoCardError, SCARD_E_NO_SERVICE, SCARD_W_SECURITY_VIOLATION } from '../pcsc/port.js';
import { knownCodeOf } from '../protocol/error-codes.js';
import { type Check, failed, passed, skipped } from './check.js';

export type ReaderLayer = Pick<CardAccess, 'status' | 'withCard' | 'close'> & { settled(timeoutMs?: number): Promise<void> };

const NO_SERVICE_LOOKS = 4;

/**
 * `pcsc-service`, `readers` and `card`, from one reader layer that is closed
 * afterwards, as `user` (this process's) meets pcscd.
 */
export async function pcscChecks(open: () => ReaderLayer, platform: NodeJS.Platform, user: string = currentUser()): Promise<Check[]> {
  let readers = open();
  try {
    await readers.settled();
    let status = readers.status();
    // pcscd refuses a user by closing the connection: libpcsclite reports
    // 0x8010006A, or 0x8010001D (no service) when the close beats its first
    // write. A few more looks tell a refusal from a stopped service.
    for (let look = 1; look < NO_SERVICE_LOOKS && status.code === SCARD_E_NO_SERVICE; look++) {
      await readers.close().catch(() => undefined);
      await sleep(100);
      readers = open();
      await readers.settled();
      status = readers.status();
    }
    if (!status.available) {
      const why = 'the PC/SC service is not reachable';
      const service =
        status.code === SCARD_W_SECURITY_VIOLATION
          ? permissionProblem(user)
          : failed('pcsc-service', `PC/SC service not reachable${status.reason ? `: ${status.reason}` : ''}`, pcscFix(platform), status.code !== undefined ? { code: hex(status.code) } : undefined);
      return [service, skipped('readers', why), skipped('card', why)];
    }
    const service = passed('pcsc-service', 'PC/SC service reachable');
    if (status.readers.length === 0) {
      return [
        service,
        failed('readers', 'no card reader found', readerFix(platform)),
        skipped('card', 'no card reader'),
      ];
    }
    const names = status.readers.map((r) => r.name);
    const readerCheck = passed('readers', `${names.length} card reader${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, { readers: names });
    return [service, readerCheck, await cardCheck(readers)];
  } finally {
    await readers.close().catch(() => undefined);
  }
}

/**
 * Reads the whole profile because that is what pages need, but keeps none of
 * it: only the reader's name leaves this function.
 */
async function cardCheck(readers: ReaderLayer): Promise<Check> {
  try {
    const reader = await readers.withCard(async (tx, name) => {
      await readProfile(tx);
      return name;
    });
    return passed('card', `NHI card in ${reader} is readable`, { reader });
  } catch (err) {
    const code = knownCodeOf(err);
    if (code === undefined) {
      return failed('card', `the card could not be read: ${(err as Error)?.message ?? String(err)}`, 'take the card out, insert it again and rerun `nhiicc doctor`');
    }
    const details = { code };
    if (err instanceof NoCardError && err.reason === 'not-accepted') {
      return failed(
        'card',
        `the card in the reader is not an NHI card (${code}: the NHI applet could not be selected)`,
        'insert your NHI card (健保卡), chip first and facing the contacts; a bank or citizen certificate card will not do',
        details,
      );
    }
    if (err instanceof NoCardError) {
      return failed('card', `no NHI card available (${code}: ${err.message})`, 'insert your NHI card (健保卡) into the reader', details);
    }
    return failed('card', `the NHI card could not be read (${code}: ${(err as Error).message})`, 'take the card out, insert it again, or try another reader', details);
  }
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/**
 * pcscd is running but refuses this user (polkit, on pcsc-lite 2 and
 * Fedora): allowed only with an active local session, which a system service
 * never has, hence the packages' rule for the service's user.
 */
function permissionProblem(user: string): Check {
  const summary = `pcscd refuses user ${user} (${hex(SCARD_W_SECURITY_VIOLATION)}, SCARD_W_SECURITY_VIOLATION): polkit does not allow it to use PC/SC`;
  const fix =
    user === SERVICE_USER
      ? `put back the polkit rule ${POLKIT_RULE} that lets the service's user use pcscd: \`sudo apt install --reinstall -o Dpkg::Options::=--force-confmiss nhiicc\` (Fedora: \`sudo dnf reinstall nhiicc\`); polkit reads it at once and the service retries by itself`
      : `polkit lets only users of an active local session use PC/SC: run this in the computer's own desktop session, or add a polkit rule for ${user} like nhiicc's ${POLKIT_RULE}`;
  return failed('pcsc-service', summary, fix, { code: hex(SCARD_W_SECURITY_VIOLATION), user });
}

function pcscFix(platform: NodeJS.Platform): string {
  return abiFor(platform).serviceHint;
}

function readerFix(platform: NodeJS.Platform): string {
  const base = 'plug in the card reader (try another USB port)';
  if (platform === 'linux') return `${base}; if it is plugged in, install its driver (\`sudo apt install libccid\`) and restart pcscd: \`sudo systemctl restart pcscd\``;
  if (platform === 'win32') return `${base}; if it is plugged in, check it in Device Manager under "Smart card readers"`;
  return `${base}; if it is plugged in, check it with \`system_profiler SPSmartCardsDataType\``;
}
