import net from 'node:net';
import { mutualAuth, readIdAndRandom } from '../card/operations.js';
import type { CardAccess } from '../pcsc/card-readers.js';
import { checkService, failedStep, openSession, requestChallenge, requestSignature, type SamLog, type SamSession } from './client.js';
import { VALUE_LENGTH } from './constants.js';
import { SamError } from './errors.js';

export type { SamLog } from './client.js';

export interface SamOptions {
  host: string;
  port: number;
  /** Per connection attempt; default 5 s. */
  connectTimeoutMs?: number;
  /** Per SAM reply (and per send); default 10 s. */
  replyTimeoutMs?: number;
  /** Use only this card reader (as `CardAccess.withCard` takes it). */
  reader?: string;
  /** Gets step names, durations and the step that failed; never card data, keys or the signature. */
  log?: SamLog;
  /**
   * Aborting it stops the signing: the SAM step under way fails at once with
   * as its own step, and the card layer releases the card.
   */
  signal?: AbortSignal;
}

export const DEFAULT_SAM = { host: 'cloudicap.nhi.gov.tw', port: 443 } as const;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

/** `HOST:PORT`, with IPv6 literals in brackets (`[::1]:443`). */
export function parseSamEndpoint(s: string): { host: string; port: number } {
  const text = s.trim();
  const bad = (why: string) => new Error(`invalid SAM endpoint "${s}": ${why} (expected HOST:PORT, e.g. ${DEFAULT_SAM.host}:${DEFAULT_SAM.port} or [::1]:443)`);
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (!net.isIPv6(host)) throw bad('brackets must hold an IPv6 address');
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw bad('no port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw bad('an IPv6 address needs brackets');
    if (host.includes('[') || host.includes(']')) throw bad('unbalanced brackets');
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw bad('not a host name or IPv4 address');
  }
  if (host === '') throw bad('no host');
  if (!/^[0-9]{1,5}$/.test(portText)) throw bad('the port must be a number');
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad('the port must be 1..65535');
  return { host, port };
}

/** The page's value: the version `0001` and the 16-digit random of GetRandom. */
const VALUE_PATTERN = new RegExp(`^0001[0-9]{${VALUE_LENGTH - 4}}$`);

/**
 * Validates value, checks the service, then signs; returns the 256 ASCII
 * chars. Throws SamError, CardError or the card layer's errors.
 *
 * The card is held only from reading its id and random through its
 * mutual-auth answer: the SAM connections and handshakes are set up before,
 * and the final signature exchange after, so a slow SAM does not block other
 * card work longer than the challenge round trip.
 */
export async function hSign(card: CardAccess, value: string, options: SamOptions): Promise<string> {
  // No source assigns a code to a malformed value (docs/protocol.md §2.6): it fails as the `value` step.
  // A SAM that refused the signing packet would fail the signature step,
  // which pages show as a SAM transport error; we answer that without asking
  // the SAM.
  if (typeof value !== 'string' || !VALUE_PATTERN.test(value)) {
    throw new SamError('value', `H_Sign value must be 0001 followed by ${VALUE_LENGTH - 4} digits`);
  }
  const sam = {
    host: options.host,
    port: options.port,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    replyTimeoutMs: options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS,
    ...(options.log ? { log: options.log } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const { log } = options;
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);

  // The signing connection is set up while the service is checked; nothing
  // is asked of it (or of the card) until the check has passed.
  const signing = openSession(sam);
  signing.catch(() => undefined);
  let session: SamSession | undefined;
  try {
    try {
      await checkService(sam);
    } catch (err) {
      // Do not wait for the other handshake to end before answering; close it when it does.
      signing.then((s) => s.socket.destroy(), () => undefined);
      throw err;
    }
    session = await signing;
    const live = session;
    const answer = await card.withCard(async (transmit) => {
      const { cardId, random } = await readIdAndRandom(transmit);
      const challenge = await requestChallenge(live, cardId, random);
      return mutualAuth(transmit, challenge);
    }, {
      ...(options.reader !== undefined ? { reader: options.reader } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const signature = await requestSignature(live, answer, value);
    log?.debug({ ms: ms() }, 'H_Sign signed by the SAM');
    return signature;
  } catch (err) {
    log?.debug({ ms: ms(), failed: failedStep(err), reason: err instanceof Error ? err.message : String(err) }, 'H_Sign failed');
    throw err;
  } finally {
    session?.socket.destroy();
  }
}
