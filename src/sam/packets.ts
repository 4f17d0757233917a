import net from 'node:net';
import { endsWithTerminator } from './cipher.js';
import { PACKET_END } from './constants.js';
import { SamError, type SamStep } from './errors.js';

/**
 * A TCP connection to the SAM that reads `<E>`-terminated packets. Every
 * wait is bounded, and a connection that closes or fails wakes the pending
 * read at once, so no caller can hang on a SAM that stopped answering.
 * Failures become `SamError`s naming the step that was waiting.
 */

/** No SAM packet comes near this; a peer that keeps sending is not a SAM. */
const MAX_PACKET = 64 * 1024;

/**
 * Says where a packet ends: its length (terminator included) once `buf`
 * holds a whole packet, else undefined.
 */
export type Framer = (buf: Buffer) => number | undefined;

/** A plain-text packet: up to its first `<E>`. */
export const plainFramer: Framer = (buf) => {
  const at = buf.indexOf(PACKET_END);
  return at < 0 ? undefined : at + PACKET_END.length;
};

/**
 * An encrypted packet. 3DES output is binary and may contain `<E>` itself, so
 * the first `<E>` proves nothing: the packet is everything received once the
 * data ends with `<E>` right after a whole number of 8-byte blocks. The SAM
 * answers once per request, so nothing may legitimately follow it; a stray
 * `<E>` that happens to end a TCP segment at a block boundary is the only
 * way to cut a packet short, and its decryption then fails as a bad packet.
 */
export const cipherFramer: Framer = (buf) => {
  const body = buf.length - PACKET_END.length;
  return body >= 8 && body % 8 === 0 && endsWithTerminator(buf) ? buf.length : undefined;
};

export class SamSocket {
  private buffered: Buffer = Buffer.alloc(0);
  private ended: string | undefined;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly socket: net.Socket,
    signal: AbortSignal | undefined,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    socket.on('error', (err) => this.end(`connection error: ${err.message}`));
    socket.on('end', () => this.end('the SAM closed the connection'));
    // Stopping closes the connection: the step waiting on it then fails at once, as itself.
    const stop = () => {
      socket.destroy();
      this.end(stoppedBy(signal!));
    };
    signal?.addEventListener('abort', stop, { once: true });
    socket.on('close', () => {
      signal?.removeEventListener('abort', stop);
      this.end('the connection closed');
    });
  }

  /** Connects within `timeoutMs`, unless `signal` aborts first; any failure is the `connect` step's. */
  static connect(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<SamSocket> {
    const failure = (why: string) => new SamError('connect', `cannot connect to the SAM at ${formatEndpoint(host, port)}: ${why}`);
    if (signal?.aborted) return Promise.reject(failure(stoppedBy(signal)));
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const fail = (why: string) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        socket.destroy();
        reject(failure(why));
      };
      const stop = () => fail(stoppedBy(signal!));
      const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs);
      signal?.addEventListener('abort', stop, { once: true });
      socket.once('error', (err) => fail(err.message));
      socket.once('connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        socket.removeAllListeners('error');
        resolve(new SamSocket(socket, signal));
      });
    });
  }

  /** Hands `data` to the kernel; fails as `step` on error or when that takes over `timeoutMs`. */
  send(data: Buffer, step: SamStep, timeoutMs: number): Promise<void> {
    if (this.ended) return Promise.reject(new SamError(step, `cannot send to the SAM: ${this.ended}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new SamError(step, `sending to the SAM took over ${timeoutMs} ms`));
        this.destroy();
      }, timeoutMs);
      this.socket.write(data, (err) => {
        clearTimeout(timer);
        if (err) reject(new SamError(step, `cannot send to the SAM: ${err.message}`));
        else resolve();
      });
    });
  }

  /** The next packet as `framer` delimits it; fails as `step` on timeout, close or overflow. */
  async read(step: SamStep, timeoutMs: number, framer: Framer): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const length = framer(this.buffered);
      if (length !== undefined) {
        const packet = this.buffered.subarray(0, length);
        this.buffered = this.buffered.subarray(length);
        return packet;
      }
      if (this.buffered.length > MAX_PACKET) throw new SamError(step, `SAM reply longer than ${MAX_PACKET} bytes`);
      if (this.ended) throw new SamError(step, `no complete reply from the SAM: ${this.ended}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new SamError(step, `no complete reply from the SAM within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  destroy(): void {
    this.socket.destroy();
    this.end('closed by us');
  }

  private end(why: string): void {
    this.ended ??= why;
    this.wake?.();
  }
}

function stoppedBy(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return `stopped: ${reason instanceof Error ? reason.message : String(reason)}`;
}

export function formatEndpoint(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
