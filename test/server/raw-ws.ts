import crypto from 'node:crypto';
import tls from 'node:tls';

/**
 * A WebSocket client written byte by byte, for tests that must send what no
 * library would: bad opcodes, unmasked or oversize frames, broken fragments,
 * invalid UTF-8. It reads the server's frames only to count replies and see
 * the close code; a client made with `read: false` reads nothing at all.
 */

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface FrameOptions {
  fin?: boolean;
  /** RSV1..3 as bits 4..6 of the first byte (0..7). */
  rsv?: number;
  /** Clients must mask; false sends the payload in the clear. */
  masked?: boolean;
}

export function frame(opcode: number, payload: Buffer, o: FrameOptions = {}): Buffer {
  const { fin = true, rsv = 0, masked = true } = o;
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

export interface RawOptions {
  port: number;
  ca: string;
  origin?: string;
  host?: string;
  /** False: never read after the handshake (a page that does not read its replies). */
  read?: boolean;
}

export interface RawSocket {
  readonly socket: tls.TLSSocket;
  /** Text frames received. */
  replies: number;
  /** The server's close code, once its close frame came. */
  closeCode: number | undefined;
  /** Resolves when the TCP connection is gone. */
  readonly ended: Promise<void>;
  /** Called on every text reply and on the close frame. */
  onEvent: (() => void) | undefined;
  /** Writes bytes; false when the socket wants a pause (backpressure) or is gone. */
  write(bytes: Buffer): boolean;
  destroy(): void;
}

/** The upgrade; rejects with `statusCode` set when the server answers anything but 101. */
export function rawConnect(o: RawOptions): Promise<RawSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port: o.port, servername: 'iccert.nhi.gov.tw', ca: o.ca });
  socket.setNoDelay(true);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(
    [
      'GET /echo HTTP/1.1',
      `Host: ${o.host ?? `iccert.nhi.gov.tw:${o.port}`}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...(o.origin !== undefined ? [`Origin: ${o.origin}`] : []),
      '',
      '',
    ].join('\r\n'),
  );
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const raw: RawSocket = {
      socket,
      replies: 0,
      closeCode: undefined,
      ended,
      onEvent: undefined,
      write: (bytes) => !socket.destroyed && socket.write(bytes),
      destroy: () => socket.destroy(),
    };
    const onFrames = () => {
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf.length < at + len) return;
        const payload = buf.subarray(at, at + len);
        buf = buf.subarray(at + len);
        if (opcode === OP.text) raw.replies++;
        else if (opcode === OP.close) raw.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        else continue; // pings and pongs
        raw.onEvent?.();
      }
    };
    const onHandshake = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      buf = buf.subarray(end + 4);
      socket.off('data', onHandshake);
      socket.off('close', onEarlyClose);
      if (status !== 101) {
        socket.destroy();
        return reject(Object.assign(new Error(`HTTP ${status}`), { statusCode: status }));
      }
      if (o.read === false) {
        socket.pause();
      } else {
        socket.on('data', (more: Buffer) => {
          buf = buf.length ? Buffer.concat([buf, more]) : more;
          onFrames();
        });
        onFrames();
      }
      resolve(raw);
    };
    const onEarlyClose = () => reject(new Error('closed before the upgrade'));
    socket.on('data', onHandshake);
    socket.once('close', onEarlyClose);
  });
}
