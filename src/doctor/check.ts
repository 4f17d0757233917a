/**
 * One line of `nhiicc doctor`. `skip` is a check that could not run because
 * another one failed (no PC/SC service: no readers to list); `info` never
 * fails the run (browser policy, a service manager we cannot query).
 */
export type CheckState = 'pass' | 'fail' | 'skip' | 'info';

export interface Check {
  id: string;
  state: CheckState;
  summary: string;
  /** What to do; always set on `fail`, a hint on `info`. */
  fix?: string;
  details?: Record<string, unknown>;
}

export function passed(id: string, summary: string, details?: Record<string, unknown>): Check {
  return { id, state: 'pass', summary, ...(details ? { details } : {}) };
}

export function failed(id: string, summary: string, fix: string, details?: Record<string, unknown>): Check {
  return { id, state: 'fail', summary, fix, ...(details ? { details } : {}) };
}

export function skipped(id: string, why: string): Check {
  return { id, state: 'skip', summary: `not checked: ${why}` };
}

export function informational(id: string, summary: string, hint?: string, details?: Record<string, unknown>): Check {
  return { id, state: 'info', summary, ...(hint ? { fix: hint } : {}), ...(details ? { details } : {}) };
}

/** A skipped check was not verified, so it is not ok; an informational one cannot fail. */
export function isOk(check: Check): boolean {
  return check.state === 'pass' || check.state === 'info';
}

/** Quotes a fix's `--config-dir` only when the user chose a folder, so the usual fix stays short. */
export function withConfigDir(command: string, configDir: string | undefined): string {
  if (configDir === undefined) return command;
  return `${command} --config-dir ${/^[\w@%+=:,./-]+$/.test(configDir) ? configDir : `'${configDir.replace(/'/g, `'\\''`)}'`}`;
}

/** An administrator command as the user would type it on this platform. */
export function asAdmin(command: string, platform: NodeJS.Platform): string {
  return platform === 'win32' ? `\`${command}\` from an elevated prompt` : `\`sudo ${command}\``;
}
