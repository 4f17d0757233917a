import { NhiError } from '../../src/card/errors.js';

/** A value as pages send it: the version `0001` and 16 random digits. */
export const signValue = () => `0001${Array.from({ length: 16 }, () => Math.floor(Math.random() * 10)).join('')}`;

/** The NHIICC code a promise rejects with; anything else fails the test. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NhiError) return err.code;
    throw err;
  }
  throw new Error('expected an NhiError');
}
