import { knownCodeOf } from '../../src/protocol/error-codes.js';
import type { FakeSamMode } from './fake-sam.js';

/** A value as pages send it: the version `0001` and 16 random digits. */
export const signValue = () => `0001${Array.from({ length: 16 }, () => Math.floor(Math.random() * 10)).join('')}`;

/** The NHIICC code the protocol layer gives what a promise rejects with; a failure no layer foresaw fails the test. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const code = knownCodeOf(err);
    if (code !== undefined) return code;
    throw err;
  }
  throw new Error('expected a failure with an NHIICC code');
}

/** How the fake SAM misbehaves, and the code the page must get for it (docs/protocol.md §6). */
export const FAILURE_MODES: ReadonlyArray<[FakeSamMode, string]> = [
  ['silent', '8305'],
  ['garbage', '8305'],
  ['badServerKey', '8303'],
  ['serviceDown', '8005'],
  ['shortChallenge', '8005'],
  ['closeMidExchange', '8005'],
  ['silentAfterRequest', '8005'],
  ['rejectCard', '8008'],
  ['silentAfterAnswer', '8008'],
];
