import { x509 } from '../tls/x509.js';
import { CommandError, TIMED_OUT, type RunResult } from '../util/runner.js';
import { inSession, READ_TIMEOUT_MS, type MacUser } from './darwin-users.js';
import type { CaInfo, TrustContext } from './trust-store.js';

/**
 * macOS keeps trust settings per domain: "admin" for every user of the Mac,
 * and one "user" domain per account. Since macOS 11 changing either needs a
 * person to confirm with a password; reading them needs nobody.
 */
export type DomainTrust = 'trusted' | 'denied' | 'absent';

/** What `security dump-trust-settings` and Keychain Access call a certificate: its common name. */
export interface CaRef {
  sha1: string;
  cn: string;
}

/** How long a person has to answer the dialogs nhiicc starts. */
export const ANSWER_TIMEOUT_MS = 3 * 60_000;

export function caRef(ca: Pick<CaInfo, 'pem' | 'sha1'>): CaRef {
  const cn = /(?:^|,\s*)CN=([^,]+)/.exec(new x509.X509Certificate(ca.pem).subject)?.[1]?.trim() ?? '';
  return { sha1: ca.sha1.toUpperCase(), cn };
}

/** Our CA's entry in `security dump-trust-settings` output ("Cert 3: <name>" and its settings below). */
export function trustIn(dump: string, cn: string): DomainTrust {
  for (const block of dump.split(/^(?=Cert \d+: )/m)) {
    const [label, ...settings] = block.split('\n');
    if (label?.replace(/^Cert \d+: /, '').trim() !== cn) continue;
    return /deny/i.test(settings.join('\n')) ? 'denied' : 'trusted';
  }
  return 'absent';
}

/** The admin domain's trust settings, or `user`'s own. */
export async function dumpTrustSettings(ctx: TrustContext, user?: MacUser): Promise<string> {
  const [cmd, args] = user ? inSession(ctx, user, 'security', ['dump-trust-settings']) : ['security', ['dump-trust-settings', '-d']];
  const result = await ctx.runner(cmd, args, { timeoutMs: READ_TIMEOUT_MS });
  if (result.code === 0) return result.stdout;
  // A domain without any trust settings is an error to `security`, not an empty list.
  if (/No Trust Settings were found/i.test(result.stderr + result.stdout)) return '';
  throw new CommandError(cmd, args, result);
}

/** SHA-1 hashes (upper case) of the certificates in one keychain file; none when it does not exist. */
export async function certificatesIn(ctx: TrustContext, user: MacUser, keychain: string): Promise<Set<string>> {
  const result = await ctx.runner(...inSession(ctx, user, 'security', ['find-certificate', '-a', '-Z', keychain]), { timeoutMs: READ_TIMEOUT_MS });
  return new Set([...result.stdout.matchAll(/^SHA-1 hash: ([0-9A-F]+)$/gim)].map((m) => m[1]!.toUpperCase()));
}

export type Answer = 'confirmed' | 'declined' | 'unattended' | 'failed';

export interface Outcome {
  answer: Answer;
  /** Past tense, after the user's name: "canceled the macOS dialog". */
  detail: string;
}

/** Classifies how a `security` call that needs a person's confirmation ended. */
export function outcomeOf(result: RunResult, minutes: number): Outcome {
  if (result.code === 0) return { answer: 'confirmed', detail: 'confirmed' };
  if (result.code === TIMED_OUT) return { answer: 'declined', detail: `did not answer the macOS dialog within ${minutes} minutes` };
  const text = `${result.stderr}\n${result.stdout}`;
  if (/no user interaction (was possible|allowed)|interaction not allowed/i.test(text)) {
    return { answer: 'unattended', detail: 'could not be asked: macOS could not show its dialog in this session' };
  }
  if (/canceled by the user|cancelled|\(-128\)|\(-60006\)/i.test(text)) return { answer: 'declined', detail: 'canceled the macOS dialog' };
  if (/authorization was denied/i.test(text)) return { answer: 'declined', detail: 'did not give the password macOS asked for' };
  const line = (result.stderr.trim() || result.stdout.trim()).split('\n')[0] ?? '';
  return { answer: 'failed', detail: `could not be asked (exit ${result.code}${line ? `: ${line}` : ''})` };
}

/**
 * Adds the CA to `user`'s login keychain and their own trust settings, which
 * makes macOS ask them for their login password. `crt` must be readable by
 * them. Note that `security` adds the certificate to the keychain before it
 * asks, so even a declined attempt leaves it there (untrusted).
 */
export async function addUserTrust(ctx: TrustContext, user: MacUser, crt: string, keychain: string, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Outcome> {
  const result = await ctx.runner(...inSession(ctx, user, 'security', ['add-trusted-cert', '-r', 'trustRoot', '-k', keychain, crt]), { timeoutMs });
  return outcomeOf(result, minutes(timeoutMs));
}

/** Removes the CA from `user`'s own trust settings; macOS asks them for their password. */
export async function removeUserTrust(ctx: TrustContext, user: MacUser, crt: string, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Outcome> {
  const result = await ctx.runner(...inSession(ctx, user, 'security', ['remove-trusted-cert', crt]), { timeoutMs });
  if (/could not be found/i.test(result.stderr)) return { answer: 'confirmed', detail: 'had no trust setting left for it' };
  return outcomeOf(result, minutes(timeoutMs));
}

const EXPLANATION = [
  '健保卡元件 nhiicc：為了讓健保署網頁連到這台 Mac 上的讀卡服務，請信任 nhiicc 只為這台電腦產生的憑證。按「繼續」後，macOS 會請您輸入登入密碼。',
  '',
  'nhiicc (NHI card service): so that NHI web pages can reach the card reader on this Mac, trust the certificate nhiicc made for this computer only. After Continue, macOS asks for your login password.',
].join('\n');

const NOT_NOW = '以後再說 Not now';
const CONTINUE = '繼續 Continue';

/**
 * Says why the password dialog that follows is coming, when nhiicc starts
 * it on its own (at login, from the installer); a person who typed the
 * command knows already. "Not now" counts as a decline.
 */
export async function explain(ctx: TrustContext, user: MacUser, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Outcome | undefined> {
  const seconds = Math.round(timeoutMs / 1000);
  const script = [
    'on run argv',
    `display dialog (item 1 of argv) with title "nhiicc" buttons {"${NOT_NOW}", "${CONTINUE}"} default button "${CONTINUE}" cancel button "${NOT_NOW}" giving up after ${seconds}`,
    'end run',
  ];
  const result = await ctx.runner(...inSession(ctx, user, 'osascript', [...script.flatMap((line) => ['-e', line]), EXPLANATION]), { timeoutMs: timeoutMs + 10_000 });
  if (result.code === 0 && /gave up:true/.test(result.stdout)) return { answer: 'declined', detail: `did not answer nhiicc's question within ${minutes(timeoutMs)} minutes` };
  if (result.code === 0) return undefined;
  if (/\(-128\)/.test(result.stderr)) return { answer: 'declined', detail: 'chose "Not now"' };
  return outcomeOf(result, minutes(timeoutMs));
}

function minutes(ms: number): number {
  return Math.round(ms / 60_000);
}
