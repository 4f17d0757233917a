import crypto from 'node:crypto';
import net from 'node:net';
import iconv from 'iconv-lite';

/**
 * A virtual NHI card: a TCP client of vpcd that answers the APDUs of
 * docs/protocol.md §3 from a profile. Disconnecting is "card removed".
 */

export interface CardProfileJson {
  cardNo: string;
  name: string;
  idNo: string;
  birthDateRoc: string;
  sex: 'M' | 'F';
  issueDateRoc: string;
  mark: string;
  /** 12 ASCII bytes read by READ CARD ID; the card number when absent. */
  cardId?: string;
  /** Hex; the mutual-auth answer is keyed with it (the fake SAM knows it too). */
  secret?: string;
}

export const VPCD_PORTS = [35963, 35964] as const;

/** A real NHI card's ATR (T=1), from pcsc-tools' smartcard_list.txt. */
export const NHI_ATR = Buffer.from('3BFC1800008131FE458073C8211366020403550002D2', 'hex');
/** The ATR of some other (non-NHI) card. */
export const OTHER_ATR = Buffer.from('3B8F8001804F0CA000000306030001000000006A', 'hex');

export const DEFAULT_SECRET = '00112233445566778899aabbccddeeff';

export interface VirtualCardOptions {
  /** vpcd slot port. */
  port?: number;
  /** Connect from this local address (the quick-ACK loopback link). */
  localAddress?: string;
  /** Answer every APDU after this many milliseconds. */
  delayMs?: number;
  /** A card without the NHI applet: every SELECT fails. */
  notNhi?: boolean;
  /** Answer data-bearing commands the T=0 way: `61xx` then GET RESPONSE, or `6Cxx` then resend. */
  t0Style?: '61' | '6C';
  /**
   * Resolves once PC/SC reports the card present, so that a program started
   * next finds it; without it, insert() allows pcscd 100 ms after power-on.
   */
  seenByPcsc?: () => Promise<void>;
}

const SW_OK = Buffer.from([0x90, 0x00]);
const sw = (n: number) => Buffer.from([n >> 8, n & 0xff]);

/** The answer a card with this secret gives to a mutual-auth challenge. */
export function mutualAuthAnswer(secretHex: string, challenge: Buffer, cardRandom: Buffer): Buffer {
  return crypto.createHmac('sha256', Buffer.from(secretHex, 'hex')).update(challenge).update(cardRandom).digest().subarray(0, 16);
}

export function basicProfileBytes(p: CardProfileJson): Buffer {
  const name = Buffer.alloc(20);
  iconv.encode(p.name, 'big5hkscs').copy(name);
  return Buffer.concat([
    Buffer.from(p.cardNo, 'latin1'),
    name,
    Buffer.from(p.idNo, 'latin1'),
    Buffer.from(p.birthDateRoc, 'latin1'),
    Buffer.from(p.sex, 'latin1'),
    Buffer.from(p.issueDateRoc, 'latin1'),
  ]);
}

export class VirtualCard {
  /** Status words to answer instead, by `CLA INS P1` hex of the command (e.g. `00CA11`). */
  readonly failures = new Map<string, number>();
  /** Every command received, as `INS P1` hex, for interleaving checks. */
  readonly log: string[] = [];
  delayMs: number;
  t0Style: VirtualCardOptions['t0Style'];
  private socket: net.Socket | undefined;
  private wanted = false;
  private selected: 'none' | 'nhi' | 'sam' = 'none';
  private lastRandom = Buffer.alloc(8);
  private pending: Buffer | undefined;
  private powered = false;
  private readonly poweredWaiters: Array<() => void> = [];

  constructor(
    public profile: CardProfileJson,
    private readonly options: VirtualCardOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 0;
    this.t0Style = options.t0Style;
  }

  get port(): number {
    return this.options.port ?? VPCD_PORTS[0];
  }

  /** Insert the card; resolves once the reader powered it up (pcscd saw it). */
  async insert(timeoutMs = 10_000): Promise<void> {
    this.wanted = true;
    this.connect();
    await this.waitPowered(timeoutMs);
    // pcscd publishes the new reader state just after it read the ATR.
    await (this.options.seenByPcsc?.() ?? new Promise((r) => setTimeout(r, 100)));
  }

  /** Pull the card out; it stays out until `insert()`. */
  async remove(): Promise<void> {
    this.wanted = false;
    this.powered = false;
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.destroy();
      });
    }
  }

  get inserted(): boolean {
    return this.wanted;
  }

  private waitPowered(timeoutMs: number): Promise<void> {
    if (this.powered) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`virtual card on port ${this.port}: no power-on from vpcd within ${timeoutMs} ms`)), timeoutMs);
      this.poweredWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Keeps reconnecting while inserted: vpcd goes away when pcscd restarts. */
  private connect(): void {
    if (!this.wanted || this.socket) return;
    const socket = net.connect({
      host: this.options.localAddress ?? '127.0.0.1',
      port: this.port,
      ...(this.options.localAddress ? { localAddress: this.options.localAddress } : {}),
    });
    socket.setNoDelay(true);
    this.socket = socket;
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        void this.onMessage(socket, Buffer.from(msg));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.powered = false;
      this.selected = 'none';
      if (this.wanted) setTimeout(() => this.connect(), 100).unref();
    });
  }

  private send(socket: net.Socket, payload: Buffer): void {
    if (socket.destroyed) return;
    const head = Buffer.alloc(2);
    head.writeUInt16BE(payload.length);
    socket.write(Buffer.concat([head, payload]));
  }

  private async onMessage(socket: net.Socket, msg: Buffer): Promise<void> {
    if (msg.length === 1) {
      switch (msg[0]) {
        case 0x00:
          this.powered = false;
          return;
        case 0x01:
        case 0x02:
          this.selected = 'none';
          return;
        case 0x04:
          this.send(socket, this.options.notNhi ? OTHER_ATR : NHI_ATR);
          this.powered = true;
          for (const w of this.poweredWaiters.splice(0)) w();
          return;
        default:
          return;
      }
    }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    this.send(socket, this.answer(msg));
  }

  answer(apdu: Buffer): Buffer {
    const key = apdu.subarray(0, 3).toString('hex').toUpperCase();
    this.log.push(apdu.subarray(1, 3).toString('hex').toUpperCase());
    const forced = this.failures.get(key);
    if (forced !== undefined) return sw(forced);
    const ins = apdu[1];
    if (ins === 0xc0) {
      const data = this.pending;
      this.pending = undefined;
      return data ? Buffer.concat([data, SW_OK]) : sw(0x6f00);
    }
    if (ins === 0xa4) return this.select(apdu);
    const data = this.dataFor(apdu);
    if (!Buffer.isBuffer(data)) return sw(data);
    return this.deliver(apdu, data);
  }

  /** Answers with data, the T=0 way when asked to. */
  private deliver(apdu: Buffer, data: Buffer): Buffer {
    if (this.t0Style === '61') {
      this.pending = data;
      return sw(0x6100 | data.length);
    }
    if (this.t0Style === '6C') {
      const lc = apdu.length > 5 ? apdu[4]! : 0;
      const le = apdu.length === 5 ? apdu[4] : apdu.length === 5 + lc + 1 ? apdu[apdu.length - 1] : undefined;
      if (le !== data.length) return sw(0x6c00 | data.length);
    }
    return Buffer.concat([data, SW_OK]);
  }

  private select(apdu: Buffer): Buffer {
    const aid = apdu.subarray(5, 5 + (apdu[4] ?? 0));
    const prefix = Buffer.from('D158000001000000000000000000', 'hex');
    if (this.options.notNhi || aid.length !== 16 || !aid.subarray(0, 14).equals(prefix)) return sw(0x6a82);
    if (aid[14] === 0x11) this.selected = 'nhi';
    else if (aid[14] === 0x31) this.selected = 'sam';
    else return sw(0x6a82);
    return SW_OK;
  }

  private dataFor(apdu: Buffer): Buffer | number {
    const [, ins, p1, p2] = apdu;
    if (this.selected !== 'nhi') return 0x6985;
    const p = this.profile;
    if (ins === 0xca && p1 === 0x11) return basicProfileBytes(p);
    if (ins === 0xca && p1 === 0x24) return Buffer.concat([Buffer.from(p.mark, 'latin1'), Buffer.alloc(15, 0x20)]);
    if (ins === 0xca && p1 === 0x00) return Buffer.from(p.cardId ?? p.cardNo, 'latin1');
    if (ins === 0x84) {
      this.lastRandom = crypto.randomBytes(8);
      return this.lastRandom;
    }
    if (ins === 0x82 && p1 === 0x11 && p2 === 0x12) {
      if (apdu[4] !== 0x20 || apdu.length < 5 + 32) return 0x6700;
      return mutualAuthAnswer(p.secret ?? DEFAULT_SECRET, apdu.subarray(5, 37), this.lastRandom);
    }
    return 0x6d00;
  }
}
