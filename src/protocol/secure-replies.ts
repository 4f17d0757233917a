import crypto from 'node:crypto';
import { encodeBig5 } from '../card/big5.js';
import { NhiError } from './error-codes.js';
import { pad7, singleDesKey, tripleDesEncrypt } from '../cipher/legacy-cipher.js';
import { L_KEY1 } from '../cipher/legacy-keys.js';
import { taipeiDate } from './taipei-date.js';

export const PASSWORD_MIN = 6;
export const PASSWORD_MAX = 12;

const ENCRYPT_KEY_SUFFIX = Buffer.from([0x27, 0x06, 0x58, 0x66]);

/** EnCrypt's length rule (docs/protocol.md §2.4): 6..12 characters, else 8009. */
export function checkPasswordLength(password: string): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new NhiError('8009', `password length must be ${PASSWORD_MIN}..${PASSWORD_MAX}`);
  }
}

/** EnCrypt (docs/protocol.md §5.1): the password for the NHI servers, keyed by card id and Taiwan date. */
export function encryptPassword(password: string, cardNo: string, now: Date = new Date()): string {
  checkPasswordLength(password);
  const pwd = Buffer.from(password, 'utf8');
  const { year, month, day } = taipeiDate(now);
  const digest = crypto.createHash('sha1').update(`${cardNo}${year}${month}${day}`, 'latin1').digest();
  const inner = tripleDesEncrypt(Buffer.concat([digest, ENCRYPT_KEY_SUFFIX]), pwd);
  return tripleDesEncrypt(L_KEY1, pad7(inner), false).toString('hex').toUpperCase();
}

/** SecureGetBasicWithParam (docs/protocol.md §5.2): the GetBasic payload under a Taiwan-date DES key. */
export function encryptBasic(basicPayload: string, now: Date = new Date()): string {
  const { year, month, day } = taipeiDate(now);
  const key = singleDesKey(Buffer.from(`${month}${day}${year}`, 'latin1'));
  return tripleDesEncrypt(key, pad7(encodeBig5(basicPayload)), false).toString('hex').toUpperCase();
}
