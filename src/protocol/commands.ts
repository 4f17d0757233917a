import crypto from 'node:crypto';
import { codeOf, type NhiCode, NhiError } from './error-codes.js';
import { type CardProfile, readCardId, readProfile } from '../card/operations.js';
import type { CardAccess } from '../pcsc/card-readers.js';
import { commandSignal, settleOrGiveUp } from './deadline.js';
import { checkPasswordLength, encryptBasic, encryptPassword } from './secure-replies.js';

export const PROTOCOL_VERSION = '0001';

/** What a caller may do: pages from allowed origins everything, local files only GetVersion (and Exit, which does nothing). */
export type Clearance = 'full' | 'version-only';

export interface CommandContext {
  card: CardAccess;
  clearance: Clearance;
  /** Signs for H_Sign through the SAM service (docs/protocol.md §6); stops when `signal` aborts. */
  sign(value: string, signal: AbortSignal): Promise<string>;
  now?: () => Date;
  /** Aborted when the page no longer wants the reply (its connection closed). */
  signal?: AbortSignal;
  /** How long one command may take, waiting for the card included; DEFAULT_DEADLINE_MS when absent. */
  deadlineMs?: number;
}

/**
 * A page gets its answer within this, whatever the card or the SAM does. A
 * GetBasic takes well under a second on a real reader, an H_Sign a few SAM
 * round trips; a command also waits for at most one operation of every
 * other busy connection (they take turns at the card).
 */
export const DEFAULT_DEADLINE_MS = 15_000;
/** How much longer a card stuck inside one APDU may keep the reply (deadline.ts). */
export const GIVE_UP_GRACE_MS = 500;

/** One reply, with what the log may say about it (never the reply itself). */
export interface CommandResult {
  /** The known command name, or `unknown`: the raw text is never logged. */
  command: string;
  /** Undefined for `Exit`, which gets no reply. */
  reply: string | undefined;
  /** `0000` on success, else the NHIICC error code sent. */
  code: '0000' | NhiCode;
  /** Why it failed, for the log; card-layer messages never hold personal data. */
  detail?: string;
  /**
   * Settles once the command's card and SAM work is over: later than the
   * reply when the deadline cut a stuck card short. The connection starts its
   * next command only then, so it never has two operations queued at the card.
   */
  done: Promise<void>;
}

type CardWork = (arg: string | undefined, ctx: CommandContext, signal: AbortSignal) => Promise<string>;

const ok = (command: string, payload: string) => `${command}:${payload}`;

export function basicPayload(p: CardProfile): string {
  return [p.cardNo, p.idNo, p.name, p.birthDateRoc, p.sex, p.mark].join(',');
}

/** 16 decimal digits, each drawn from the CSPRNG (no modulo bias). */
export function randomDigits(count = 16): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(crypto.randomInt(10));
  return out;
}

const readCardNo = (ctx: CommandContext, signal: AbortSignal) =>
  ctx.card.withCard(async (tx) => (await readCardId(tx)).toString('latin1'), { signal });
const readCardProfile = (ctx: CommandContext, signal: AbortSignal) => ctx.card.withCard(readProfile, { signal });

/** Answered here and now: no card, no SAM, nothing to wait for or stop. */
const AT_ONCE: Record<string, () => string | undefined> = {
  GetVersion: () => ok('GetVersion', PROTOCOL_VERSION),
  GetRandom: () => ok('GetRandom', randomDigits()),
  // The official component exits here; a web page must never stop the service.
  Exit: () => undefined,
};

/** Work at the card (and for H_Sign the SAM), under the command's signal. */
const CARD_WORK: Record<string, CardWork> = {
  GetBasic: async (_arg, ctx, signal) => ok('GetBasic', basicPayload(await readCardProfile(ctx, signal))),
  EnCrypt: async (arg, ctx, signal) => {
    const pwd = param(arg, 'Pwd');
    // Checked before touching the card: a bad password never needs it.
    checkPasswordLength(pwd);
    return ok('EnCrypt', encryptPassword(pwd, await readCardNo(ctx, signal), ctx.now?.()));
  },
  SecureGetBasicWithParam: async (arg, ctx, signal) => {
    param(arg, 'Pwd'); // required by the protocol, unused by its cipher
    const profile = await readCardProfile(ctx, signal);
    return ok('SecureGetBasicWithParam', encryptBasic(basicPayload(profile), ctx.now?.()));
  },
  H_Sign: async (arg, ctx, signal) => ok('H_Sign', await ctx.sign(param(arg, 'Random'), signal)),
};

/** `Pwd=secret` → `secret`; a missing parameter is an unknown command. */
function param(arg: string | undefined, name: string): string {
  const prefix = `${name}=`;
  if (arg === undefined || !arg.startsWith(prefix)) throw new NhiError('9999', `missing ${name}=`);
  return arg.slice(prefix.length);
}

export function commandName(text: string): string {
  const q = text.indexOf('?');
  const name = q === -1 ? text : text.slice(0, q);
  return Object.hasOwn(AT_ONCE, name) || Object.hasOwn(CARD_WORK, name) ? name : 'unknown';
}

const DONE = Promise.resolve();

export async function runCommand(text: string, ctx: CommandContext): Promise<CommandResult> {
  const command = commandName(text);
  if (command === 'unknown' || (ctx.clearance === 'version-only' && command !== 'GetVersion' && command !== 'Exit')) {
    return { command, reply: '9999', code: '9999', done: DONE };
  }
  const q = text.indexOf('?');
  const arg = q === -1 ? undefined : text.slice(q + 1);
  // Only H_Sign, EnCrypt and SecureGetBasicWithParam take an argument.
  if (arg !== undefined && !['EnCrypt', 'SecureGetBasicWithParam', 'H_Sign'].includes(command)) {
    return { command, reply: '9999', code: '9999', done: DONE };
  }
  const now = AT_ONCE[command];
  if (now) return { command, reply: now(), code: '0000', done: DONE };
  const deadlineMs = ctx.deadlineMs ?? DEFAULT_DEADLINE_MS;
  // Past the deadline the card layer releases the card and rejects with this
  // reason: 8013 is the official code for a card that cannot be accessed. A
  // SAM step cut short fails with its own code instead (sam/packets.ts).
  const stop = commandSignal(ctx.signal, deadlineMs, () => new NhiError('8013', `no answer within the ${deadlineMs} ms deadline`));
  let work: Promise<string> | undefined;
  try {
    work = CARD_WORK[command]!(arg, ctx, stop.signal);
    const reply = await settleOrGiveUp(work, stop.signal, GIVE_UP_GRACE_MS);
    return { command, reply, code: '0000', done: DONE };
  } catch (err) {
    const code = codeOf(err);
    const done = work ? work.then(() => undefined, () => undefined) : DONE;
    return { command, reply: code, code, detail: (err as Error)?.message ?? String(err), done };
  } finally {
    stop.dispose();
  }
}
