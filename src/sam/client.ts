import { AUTH_ANSWER_LENGTH, CARD_ID_LENGTH, CARD_RANDOM_LENGTH, CHALLENGE_LENGTH } from '../card/apdu.js';
import { CardError } from '../card/errors.js';
import { decryptPacket, encryptPacket } from './cipher.js';
import { SIGNATURE_LENGTH } from './constants.js';
import { SamError, type SamStep } from './errors.js';
import { handshake } from './handshake.js';
import { cipherFramer, plainFramer, SamSocket } from './packets.js';
import { type ClientKeys, generateClientKeys } from './rsa.js';

/** The SAM conversations of docs/protocol.md §6.2 and §6.3, each on its own connection. */

/** Step lines are debug only: the service logs one line per command, with its code. */
export interface SamLog {
  debug(obj: object, msg?: string): void;
}

export interface SamConnectionOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  /** Aborting it closes the connection: the step under way fails as itself. */
  signal?: AbortSignal;
  log?: SamLog;
}

export interface SamSession {
  socket: SamSocket;
  key: Buffer;
  options: SamConnectionOptions;
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const SERVICE_CHECK = latin1('77<E>');
const SERVICE_OK = latin1('04<rc=2>OK<E>');
const CHALLENGE_HEAD = latin1(`02<au=${CHALLENGE_LENGTH}>`);
const SIGNATURE_HEAD = latin1(`04<rc=2>OK<si=${SIGNATURE_LENGTH}>`);
const TRAILER = latin1('<E>');

/** Times one step for the log; the log gets the name, duration and, on failure, the step that failed only. */
export async function timed<T>(log: SamLog | undefined, step: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await run();
    log?.debug({ step, ms: Math.round(performance.now() - started) }, 'SAM step done');
    return result;
  } catch (err) {
    log?.debug({ step, ms: Math.round(performance.now() - started), failed: failedStep(err) }, 'SAM step failed');
    throw err;
  }
}

/** Connects and runs the handshake; the socket is destroyed if either fails. */
export async function openSession(options: SamConnectionOptions): Promise<SamSession> {
  const { log } = options;
  // Key generation overlaps the connect; its failure is reported only once
  // the connect succeeded, so an unreachable SAM stays a connect failure.
  const keys: Promise<ClientKeys> = generateClientKeys().catch((err: Error) => {
    throw new SamError('key pair', `cannot make the RSA key pair: ${err.message}`);
  });
  keys.catch(() => undefined);
  const socket = await timed(log, 'connect', () => SamSocket.connect(options.host, options.port, options.connectTimeoutMs, options.signal));
  try {
    const key = await timed(log, 'handshake', async () => handshake(socket, await keys, options.replyTimeoutMs));
    return { socket, key, options };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Service check on its own connection: `77<E>` must get exactly `04<rc=2>OK<E>`. */
export async function checkService(options: SamConnectionOptions): Promise<void> {
  const session = await openSession(options);
  try {
    await timed(options.log, 'service-check', async () => {
      await session.socket.send(SERVICE_CHECK, 'service check', options.replyTimeoutMs);
      const reply = await session.socket.read('service check', options.replyTimeoutMs, plainFramer);
      if (!reply.equals(SERVICE_OK)) throw new SamError('service check', 'the SAM service check failed');
    });
  } finally {
    session.socket.destroy();
  }
}

/** Sends the card id and random; resolves to the SAM's 32-byte challenge. */
export async function requestChallenge(session: SamSession, cardId: Buffer, cardRandom: Buffer): Promise<Buffer> {
  if (cardId.length !== CARD_ID_LENGTH || cardRandom.length !== CARD_RANDOM_LENGTH) {
    throw new SamError('card id and random', 'card id or card random of the wrong size');
  }
  const { socket, key, options } = session;
  return timed(options.log, 'challenge', async () => {
    const request = Buffer.concat([latin1(`01<id=${CARD_ID_LENGTH}>`), cardId, latin1(`<rn=${CARD_RANDOM_LENGTH}>`), cardRandom, TRAILER]);
    await socket.send(encryptPacket(key, request), 'card id and random', options.replyTimeoutMs);
    const reply = decryptReply(key, await socket.read('challenge', options.replyTimeoutMs, cipherFramer), 'challenge');
    return Buffer.from(expectFramed(reply, CHALLENGE_HEAD, CHALLENGE_LENGTH, 'challenge'));
  });
}

/** Sends the card's answer and the page's value; resolves to the 256 signature characters. */
export async function requestSignature(session: SamSession, answer: Buffer, value: string): Promise<string> {
  if (answer.length !== AUTH_ANSWER_LENGTH) throw new CardError('MUTUAL AUTH', 'card answer of the wrong size');
  const { socket, key, options } = session;
  return timed(options.log, 'signature', async () => {
    const valueBytes = latin1(value);
    const packet = Buffer.concat([latin1(`03<au=${AUTH_ANSWER_LENGTH}>`), answer, latin1(`<se=${valueBytes.length}>`), valueBytes, TRAILER]);
    await socket.send(encryptPacket(key, packet), 'card answer', options.replyTimeoutMs);
    const reply = decryptReply(key, await socket.read('signature', options.replyTimeoutMs, cipherFramer), 'signature');
    const signature = expectFramed(reply, SIGNATURE_HEAD, SIGNATURE_LENGTH, 'signature');
    // The page receives these bytes as text in a WebSocket frame.
    if (!signature.every((b) => b >= 0x20 && b <= 0x7e)) throw new SamError('signature', 'the SAM signature is not printable ASCII');
    return signature.toString('latin1');
  });
}

function decryptReply(key: Buffer, packet: Buffer, step: SamStep): Buffer {
  try {
    return decryptPacket(key, packet);
  } catch {
    throw new SamError(step, 'the SAM reply does not decrypt with the session key');
  }
}

/**
 * `head` ‖ exactly `length` bytes ‖ `<E>`. Anything else, such as a refusal
 * `04<rc=2>NG<E>`, is the step's error.
 */
function expectFramed(reply: Buffer, head: Buffer, length: number, step: SamStep): Buffer {
  const ok =
    reply.length === head.length + length + TRAILER.length &&
    reply.subarray(0, head.length).equals(head) &&
    reply.subarray(head.length + length).equals(TRAILER);
  if (!ok) {
    const refused = reply.subarray(0, 8).toString('latin1') === '04<rc=2>';
    throw new SamError(step, refused ? `the SAM refused (${step} step)` : `malformed SAM ${step} packet (${reply.length} bytes)`);
  }
  return reply.subarray(head.length, head.length + length);
}

/** The step a failure names: a SAM step, the card's, or none (a fault of ours). */
export function failedStep(err: unknown): string | undefined {
  return err instanceof SamError || err instanceof CardError ? err.step : undefined;
}
