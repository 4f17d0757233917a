import { MAX_FRAME_BYTES } from '../../src/server/echo-route.js';
import { frame, OP } from './raw-ws.js';

/** What the fuzz test sends: frames a hostile or buggy page might, from a seeded generator. */

/** mulberry32: the run is repeatable from its seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))) };
}
export type Rng = ReturnType<typeof prng>;

export const digits = (r: Rng, n: number) => Array.from({ length: n }, () => r.int(10)).join('');
const VALID = () => ['GetVersion', 'GetRandom', 'GetBasic', 'EnCrypt?Pwd=123456', 'SecureGetBasicWithParam?Pwd=abcdef', 'Exit'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What one step of a page sends: frames, how many replies it is owed, whether the server must close. */
export interface Move {
  kind: string;
  frames: Buffer[];
  replies: number;
  fatal: boolean;
}

function text(kind: string, payload: Buffer | string): Move {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  let decoded: string | undefined;
  try {
    decoded = utf8.decode(bytes);
  } catch {
    decoded = undefined;
  }
  const fatal = decoded === undefined || bytes.length > MAX_FRAME_BYTES;
  return { kind, frames: [frame(OP.text, bytes)], replies: fatal || decoded === 'Exit' ? 0 : 1, fatal };
}

function mutate(r: Rng, s: string): Buffer {
  const b = Buffer.from(s);
  const out = [...b];
  for (let n = 1 + r.int(3); n > 0; n--) {
    const at = r.int(out.length + 1);
    switch (r.int(4)) {
      case 0:
        out[at % out.length] = out[at % out.length]! ^ (1 << r.int(8));
        break;
      case 1:
        out.splice(at, 0, r.int(256));
        break;
      case 2:
        out.splice(at, 1);
        break;
      default:
        out[at % out.length] = r.int(256);
    }
  }
  return Buffer.from(out);
}

export function nextMove(r: Rng): Move {
  const roll = r.int(1000);
  const valid = r.pick(VALID());
  // Real commands, and H_Sign with a good value now and then (it goes to the SAM).
  if (roll < 300) return text('valid', roll < 2 ? `H_Sign?Random=0001${digits(r, 16)}` : valid);
  // Huge or broken parameters.
  if (roll < 550) {
    const junk = r.pick([
      () => `EnCrypt?Pwd=${'x'.repeat(r.int(MAX_FRAME_BYTES - 12))}`,
      () => `H_Sign?Random=${digits(r, r.int(40))}`,
      () => `H_Sign?Random=0001${'１'.repeat(16)}`,
      () => `SecureGetBasicWithParam?Pwd=${r.bytes(r.int(30)).toString('latin1')}`,
      () => `${valid}?${'?'.repeat(r.int(500))}`,
      () => `${valid}\u0000${valid}`,
      () => `GetBasic?x=${'林喆𡃁'.repeat(r.int(100))}`,
      () => `${valid.toLowerCase()} `,
      () => '',
      () => '{"cmd":"GetBasic"}',
    ])();
    return text('broken parameters', junk);
  }
  // Fragments of real commands, as text.
  if (roll < 700) {
    const cut = r.int(valid.length);
    return text('text fragment', r.next() < 0.5 ? valid.slice(0, cut) : valid.slice(cut));
  }
  // A command in WebSocket fragments (valid), with a ping in between sometimes.
  if (roll < 780) {
    const bytes = Buffer.from(valid);
    const cut = 1 + r.int(bytes.length - 1);
    const frames = [frame(OP.text, bytes.subarray(0, cut), { fin: false })];
    if (r.next() < 0.3) frames.push(frame(OP.ping, r.bytes(r.int(20))));
    frames.push(frame(OP.continuation, bytes.subarray(cut)));
    return { kind: 'ws fragments', frames, replies: valid === 'Exit' ? 0 : 1, fatal: false };
  }
  // Byte mutations of a real command: often invalid UTF-8.
  if (roll < 970) return text('mutated bytes', mutate(r, valid));
  // Everything below ends the connection.
  const fatal = (kind: string, ...frames: Buffer[]): Move => ({ kind, frames, replies: 0, fatal: true });
  return r.pick([
    () => fatal('invalid UTF-8', frame(OP.text, r.pick([Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('GetBa\xe9sic', 'latin1')]))),
    () => fatal('oversize', frame(OP.text, Buffer.alloc(MAX_FRAME_BYTES + 1 + r.int(20_000), 0x41))),
    () => fatal('oversize in fragments', frame(OP.text, Buffer.alloc(3000, 0x41), { fin: false }), frame(OP.continuation, Buffer.alloc(3000, 0x41))),
    () => fatal('binary', frame(OP.binary, Buffer.from(valid))),
    () => fatal('reserved opcode', frame(3 + r.int(5), Buffer.from(valid))),
    () => fatal('RSV bits', frame(OP.text, Buffer.from(valid), { rsv: 1 + r.int(7) })),
    () => fatal('unmasked', frame(OP.text, Buffer.from(valid), { masked: false })),
    () => fatal('long control frame', frame(OP.ping, Buffer.alloc(126))),
    () => fatal('fragmented control frame', frame(OP.ping, Buffer.alloc(4), { fin: false })),
    () => fatal('continuation without start', frame(OP.continuation, Buffer.from(valid))),
    () => fatal('text inside a fragmented message', frame(OP.text, Buffer.from('Get'), { fin: false }), frame(OP.text, Buffer.from('Basic'))),
    () => fatal('close with a bad code', frame(OP.close, Buffer.from([0x03, 0xe7]))),
    () => fatal('close', frame(OP.close, Buffer.from([0x03, 0xe8]))),
  ])();
}
