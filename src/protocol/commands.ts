import crypto from 'node:crypto';
import { codeOf, NhiError, type NhiCode } from '../card/errors.js';
import { type CardProfile, readCardId, readProfile } from '../card/operations.js';
import type { CardAccess } from '../pcsc/card-readers.js';
import { checkPasswordLength, encryptBasic, encryptPassword } from './secure-replies.js';

export const PROTOCOL_VERSION = '0001';

/** What a caller may do: pages from allowed origins everything, local files only GetVersion (and Exit, which does nothing). */
export type Clearance = 'full' | 'version-only';

export interface CommandContext {
  card: CardAccess;
  clearance: Clearance;
  /** Signs for H_Sign through the SAM service (docs/protocol.md §6). */
  sign(value: string): Promise<string>;
  now?: () => Date;
}

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
}

type Handler = (arg: string | undefined, ctx: CommandContext) => Promise<string | undefined>;

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

const readCardNo = (ctx: CommandContext) => ctx.card.withCard(async (tx) => (await readCardId(tx)).toString('latin1'));
const readCardProfile = (ctx: CommandContext) => ctx.card.withCard(readProfile);

const HANDLERS: Record<string, Handler> = {
  GetVersion: async () => ok('GetVersion', PROTOCOL_VERSION),
  GetRandom: async () => ok('GetRandom', randomDigits()),
  GetBasic: async (_arg, ctx) => ok('GetBasic', basicPayload(await readCardProfile(ctx))),
  EnCrypt: async (arg, ctx) => {
    const pwd = param(arg, 'Pwd');
    // Checked before touching the card: a bad password never needs it.
    checkPasswordLength(pwd);
    return ok('EnCrypt', encryptPassword(pwd, await readCardNo(ctx), ctx.now?.()));
  },
  SecureGetBasicWithParam: async (arg, ctx) => {
    param(arg, 'Pwd'); // required by the protocol, unused by its cipher
    const profile = await readCardProfile(ctx);
    return ok('SecureGetBasicWithParam', encryptBasic(basicPayload(profile), ctx.now?.()));
  },
  H_Sign: async (arg, ctx) => ok('H_Sign', await ctx.sign(param(arg, 'Random'))),
  // The official component exits here; a web page must never stop the service.
  Exit: async () => undefined,
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
  return Object.hasOwn(HANDLERS, name) ? name : 'unknown';
}

export async function runCommand(text: string, ctx: CommandContext): Promise<CommandResult> {
  const command = commandName(text);
  if (command === 'unknown' || (ctx.clearance === 'version-only' && command !== 'GetVersion' && command !== 'Exit')) {
    return { command, reply: '9999', code: '9999' };
  }
  const q = text.indexOf('?');
  const arg = q === -1 ? undefined : text.slice(q + 1);
  // Only H_Sign, EnCrypt and SecureGetBasicWithParam take an argument.
  if (arg !== undefined && !['EnCrypt', 'SecureGetBasicWithParam', 'H_Sign'].includes(command)) {
    return { command, reply: '9999', code: '9999' };
  }
  try {
    const reply = await HANDLERS[command]!(arg, ctx);
    return { command, reply, code: '0000' };
  } catch (err) {
    const code = codeOf(err);
    return { command, reply: code, code, detail: (err as Error)?.message ?? String(err) };
  }
}
