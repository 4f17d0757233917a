import crypto from 'node:crypto';
import net from 'node:net';
import { L_KEY } from '../../src/sam/constants.js';
import { mutualAuthAnswer } from '../bed/virtual-card.js';

/**
 * A fake NHI SAM server for tests: the server side of docs/protocol.md §6 on
 * 127.0.0.1. Written separately from the client (its own framing, its own
 * unpadding) so that a misreading of the protocol in one does not hide in
 * the other; only L_KEY is shared, and a unit test pins that to the spec.
 */

export type FakeSamMode =
  | 'ok'
  /** A closed port (only at start). */
  | 'refuse'
  /** Accepts, reads, never answers. */
  | 'silent'
  /** Answers the hello with random bytes + `<E>`. */
  | 'garbage'
  /** A challenge of 16 bytes instead of 32. */
  | 'shortChallenge'
  /** Closes the connection once the signing request arrived. */
  | 'closeMidExchange'
  /** `04<rc=2>NG<E>` to the card's answer. */
  | 'rejectCard'
  /** `04<rc=2>NG<E>` to the service check. */
  | 'serviceDown'
  /** No challenge after the signing request. */
  | 'silentAfterRequest'
  /** No signature after the card's answer. */
  | 'silentAfterAnswer'
  /** A hello whose server PEM is not a key. */
  | 'badServerKey'
  /** Every reply in pieces, a few ms apart, split inside its `<E>`. */
  | 'drip';

export interface FakeSamOptions {
  /** Card id (12 ASCII chars) → the card's secret, hex. */
  cards: Record<string, string>;
  mode?: FakeSamMode;
}

const E = Buffer.from('<E>');
const NG = Buffer.from('04<rc=2>NG<E>');

const tdes = (encrypt: boolean, key: Buffer, data: Buffer) => {
  const c = encrypt ? crypto.createCipheriv('des-ede3', key, null) : crypto.createDecipheriv('des-ede3', key, null);
  return Buffer.concat([c.update(data), c.final()]);
};
const enc = (key: Buffer, plain: Buffer) => Buffer.concat([tdes(true, key, plain), E]);

/** PKCS#1 v1.5 type 2 removal; plain code, timing does not matter in a test server. */
function unpad(em: Buffer): Buffer {
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) throw new Error('bad PKCS#1 padding');
  return em.subarray(sep + 1);
}

class Conn {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** Waits until `complete(buf)` gives a length, and takes that many bytes. */
  async take(complete: (buf: Buffer) => number | undefined): Promise<Buffer> {
    for (;;) {
      const n = complete(this.buf);
      if (n !== undefined) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.closed) throw new Error('client closed the connection');
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** The first `n` bytes once they arrived, left in place. */
  async peek(n: number): Promise<Buffer> {
    const head = await this.take((b) => (b.length >= n ? 0 : undefined));
    void head;
    return Buffer.from(this.buf.subarray(0, n));
  }

  /** The client sends one packet per turn, so its encrypted packet is all there is once it ends in `<E>` on a block boundary. */
  encrypted(key: Buffer): Promise<Buffer> {
    return this.take((b) => (b.length > 3 && (b.length - 3) % 8 === 0 && b.subarray(-3).equals(E) ? b.length : undefined)).then((p) =>
      tdes(false, key, p.subarray(0, -3)),
    );
  }

  send(data: Buffer, drip = false): void {
    if (!drip) {
      if (!this.socket.destroyed) this.socket.write(data);
      return;
    }
    const cuts = [0, data.length >> 1, data.length - 2, data.length - 1, data.length];
    cuts.slice(1).forEach((end, i) => {
      setTimeout(() => {
        if (!this.socket.destroyed) this.socket.write(data.subarray(cuts[i], end));
      }, 15 * i);
    });
  }
}

export class FakeSam {
  mode: FakeSamMode;
  readonly host = '127.0.0.1';
  port = 0;
  /** TCP connections accepted so far. */
  connections = 0;
  serviceChecks = 0;
  /** Signing requests (`01…`) received. */
  requests = 0;
  signatures = 0;
  /** Protocol violations seen from the client (a correct client leaves this empty). */
  readonly errors: string[] = [];
  /** Runs after a signing request arrived, before the challenge goes out. */
  beforeChallenge: (() => Promise<void> | void) | undefined;

  private readonly server = net.createServer((s) => void this.serve(s));
  private readonly sockets = new Set<net.Socket>();
  private readonly serverKey = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  private readonly signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });

  private constructor(private readonly options: FakeSamOptions) {
    this.mode = options.mode ?? 'ok';
  }

  static async start(options: FakeSamOptions): Promise<FakeSam> {
    const fake = new FakeSam(options);
    await new Promise<void>((resolve) => fake.server.listen(0, fake.host, resolve));
    fake.port = (fake.server.address() as net.AddressInfo).port;
    // A port that was just free and is closed again refuses connections.
    if (fake.mode === 'refuse') await new Promise<void>((resolve) => fake.server.close(() => resolve()));
    return fake;
  }

  get endpoint(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** Whether `sig` is what this fake signs for `value` (hex of RSA-SHA256 with its test key). */
  verify(value: string, sig: string): boolean {
    if (!/^[0-9a-f]{256}$/.test(sig)) return false;
    return crypto.verify('sha256', Buffer.from(value, 'latin1'), this.signingKey.publicKey, Buffer.from(sig, 'hex'));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(socket: net.Socket): Promise<void> {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const conn = new Conn(socket);
    const send = conn.send.bind(conn);
    conn.send = (data: Buffer) => send(data, this.mode === 'drip');
    if (this.mode === 'silent') return;
    try {
      const key = await this.handshake(conn);
      if (!key) return;
      await this.session(conn, key);
    } catch (err) {
      if (!conn.closed) this.errors.push((err as Error).message);
      socket.destroy();
    }
  }

  private async handshake(conn: Conn): Promise<Buffer | undefined> {
    const hello = await conn.encrypted(L_KEY);
    if (!hello.subarray(0, 6).equals(Buffer.from('Hello '))) throw new Error('client hello lacks "Hello "');
    const clientPem = hello.subarray(6).toString('latin1');
    if (clientPem.endsWith('\n')) throw new Error('client PEM keeps its trailing newline');
    const clientKey = crypto.createPublicKey(clientPem);
    if (clientKey.asymmetricKeyDetails?.modulusLength !== 1024) throw new Error('client key is not RSA-1024');

    if (this.mode === 'garbage') {
      conn.send(Buffer.concat([crypto.randomBytes(200), E]));
      return undefined;
    }
    const serverNonce = crypto.randomBytes(16);
    let serverPem = Buffer.from(this.serverKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'latin1');
    if (this.mode === 'badServerKey') serverPem = Buffer.from(`-----BEGIN PUBLIC KEY-----\n${'A'.repeat(219)}\n-----END PUBLIC KEY-----\n`, 'latin1');
    if (serverPem.length !== 272) throw new Error(`server PEM is ${serverPem.length} bytes`);
    const encryptedNonce = crypto.publicEncrypt({ key: clientKey, padding: crypto.constants.RSA_PKCS1_PADDING }, serverNonce);
    conn.send(enc(L_KEY, Buffer.concat([Buffer.from('Hello '), serverPem, Buffer.from(' 128 '), encryptedNonce])));

    const nonceHead = /^ ([0-9]+) /;
    const packet = await conn.take((b) => {
      const m = nonceHead.exec(b.subarray(0, 8).toString('latin1'));
      if (!m) {
        if (b.length >= 8) throw new Error('client nonce packet lacks " len "');
        return undefined;
      }
      const total = m[0].length + Number(m[1]) + 3;
      return b.length >= total ? total : undefined;
    });
    if (!packet.subarray(-3).equals(E)) throw new Error('client nonce packet lacks <E>');
    const head = nonceHead.exec(packet.toString('latin1'))![0];
    const em = crypto.privateDecrypt(
      { key: this.serverKey.privateKey, padding: crypto.constants.RSA_NO_PADDING },
      packet.subarray(head.length, -3),
    );
    const clientNonce = unpad(em);
    if (clientNonce.length !== 16) throw new Error(`client nonce of ${clientNonce.length} bytes`);
    return Buffer.concat([clientNonce, serverNonce]).subarray(0, 24);
  }

  private async session(conn: Conn, key: Buffer): Promise<void> {
    // `77<E>` is five plain bytes; an encrypted packet is 8k + 3.
    if ((await conn.peek(5)).equals(Buffer.from('77<E>'))) {
      await conn.take(() => 5);
      this.serviceChecks++;
      conn.send(this.mode === 'serviceDown' ? NG : Buffer.from('04<rc=2>OK<E>'));
      return;
    }
    const request = await conn.encrypted(key);
    this.requests++;
    const m = /^01<id=12>([\s\S]{12})<rn=8>([\s\S]{8})<E>$/.exec(request.toString('latin1'));
    if (!m) throw new Error('malformed signing request');
    const cardId = m[1]!;
    const cardRandom = Buffer.from(m[2]!, 'latin1');
    if (this.mode === 'closeMidExchange') {
      conn.socket.destroy();
      return;
    }
    if (this.mode === 'silentAfterRequest') return;
    await this.beforeChallenge?.();
    const secret = this.options.cards[cardId];
    if (secret === undefined) {
      conn.send(enc(key, NG));
      return;
    }
    const challenge = crypto.randomBytes(this.mode === 'shortChallenge' ? 16 : 32);
    conn.send(enc(key, Buffer.concat([Buffer.from(`02<au=${challenge.length}>`), challenge, E])));

    const answerPacket = (await conn.encrypted(key)).toString('latin1');
    const a = /^03<au=16>([\s\S]{16})<se=20>([\s\S]{20})<E>$/.exec(answerPacket);
    if (!a) throw new Error('malformed answer packet');
    if (this.mode === 'silentAfterAnswer') return;
    const expected = mutualAuthAnswer(secret, challenge, cardRandom);
    if (this.mode === 'rejectCard' || !expected.equals(Buffer.from(a[1]!, 'latin1'))) {
      conn.send(enc(key, NG));
      return;
    }
    const signature = crypto.sign('sha256', Buffer.from(a[2]!, 'latin1'), this.signingKey.privateKey).toString('hex');
    this.signatures++;
    conn.send(enc(key, Buffer.concat([Buffer.from('04<rc=2>OK<si=256>'), Buffer.from(signature, 'latin1'), E])));
  }
}
