import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  /** Ends the command (SIGTERM) when it has not finished by then: a dialog nobody answers must not hang an install. */
  timeoutMs?: number;
}

/**
 * Every external command the trust-store, browser-policy and doctor code
 * runs goes through this seam, so tests can record the exact command lines
 * of platforms they do not run on.
 */
export type Runner = (cmd: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

/** Code used when the program itself is missing, as a shell would. */
export const COMMAND_NOT_FOUND = 127;

/** Code used when `timeoutMs` ended the command, as timeout(1) does. */
export const TIMED_OUT = 124;

export const runCommand: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, opts.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = error.code === 'ENOENT' ? COMMAND_NOT_FOUND : 1;
      resolve({ code, stdout: '', stderr: `${cmd}: ${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `${cmd}: no answer within ${Math.ceil(opts.timeoutMs! / 1000)} s, ended\n` : '');
      resolve({ code: timedOut ? TIMED_OUT : (code ?? 1), stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });

/** Runs a command and turns a failure into an error carrying its output. */
export async function runChecked(runner: Runner, cmd: string, args: string[], opts?: RunOptions): Promise<RunResult> {
  const result = await runner(cmd, args, opts);
  if (result.code !== 0) throw new CommandError(cmd, args, result);
  return result;
}

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: string[],
    readonly result: RunResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n')[0] ?? '';
    const why = result.code === COMMAND_NOT_FOUND ? 'is not installed' : result.code === TIMED_OUT ? 'did not finish in time' : `failed (exit ${result.code})`;
    super(`\`${cmd} ${args.join(' ')}\` ${why}${detail ? `: ${detail}` : ''}`);
  }
}
