import dns from 'node:dns/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { NHI_HOST } from '../config/names.js';
import { isLoopbackAddress } from '../util/loopback.js';

export const HOSTS_MARKER = '# added by nhiicc';
const OUR_LINE = `127.0.0.1 ${NHI_HOST} ${HOSTS_MARKER}`;
/** What a hosts file made from nothing starts with (Debian's usual lines), so localhost keeps resolving. */
export const USUAL_HOSTS_LINES = ['127.0.0.1\tlocalhost', '::1\t\tlocalhost ip6-localhost ip6-loopback', 'ff02::1\t\tip6-allnodes', 'ff02::2\t\tip6-allrouters'];

export function defaultHostsFile(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform === 'win32') {
    return path.win32.join(env.SystemRoot ?? 'C:\\Windows', 'System32', 'drivers', 'etc', 'hosts');
  }
  return '/etc/hosts';
}

/** True when every address the system resolver gives for `name` is loopback. */
export async function resolvesToLoopback(name: string = NHI_HOST): Promise<boolean> {
  try {
    const addresses = await dns.lookup(name, { all: true });
    return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
  } catch {
    return false;
  }
}

export interface HostsOptions {
  file?: string;
  /** Replaces the DNS check (tests, or a file that is not the live hosts file). */
  resolves?: (name: string) => Promise<boolean>;
}

export type HostsResult =
  | { changed: true; file: string; message: string }
  | { changed: false; file: string; message: string };

export interface HostsStatus {
  file: string;
  /** Our marked line is in the file. */
  hasOurLine: boolean;
  /** Some line in the file, ours or not, maps the name to loopback. */
  fileMapsToLoopback: boolean;
  resolvesToLoopback: boolean;
}

/**
 * Adds our marked line unless the name already reaches loopback. A system
 * without a hosts file (a minimal container) gets one with the usual lines.
 */
export async function installHostsEntry(options: HostsOptions = {}): Promise<HostsResult> {
  const file = options.file ?? defaultHostsFile();
  const existing = await readHosts(file);
  const text = existing ?? '';
  const lines = splitLines(text);
  if (lines.some((l) => isOurLine(l.content))) {
    return { changed: false, file, message: `${file} already has the nhiicc line for ${NHI_HOST}` };
  }
  if (lines.some((l) => mapsToLoopback(l.content))) {
    return { changed: false, file, message: `${file} already maps ${NHI_HOST} to loopback; not changed` };
  }
  if (await (options.resolves ?? resolvesToLoopback)(NHI_HOST)) {
    return { changed: false, file, message: `${NHI_HOST} already resolves to loopback; ${file} not changed` };
  }
  if (existing === undefined) {
    const eol = process.platform === 'win32' ? '\r\n' : '\n';
    await writeHosts(file, [...USUAL_HOSTS_LINES, OUR_LINE].map((l) => l + eol).join(''));
    // Every program reads it, whatever umask the installer ran with.
    if (process.platform !== 'win32') await fs.chmod(file, 0o644);
    return { changed: true, file, message: `${file} did not exist: created it with the usual localhost lines and "${OUR_LINE}"` };
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  // Match the file's own style: if its last line has no line break, ours will not either.
  const updated =
    text === '' ? OUR_LINE + eol : text.endsWith('\n') ? text + OUR_LINE + eol : text + eol + OUR_LINE;
  await writeHosts(file, updated);
  return { changed: true, file, message: `added "${OUR_LINE}" to ${file}` };
}

/** Removes only lines carrying our marker; every other byte stays as it was. */
export async function uninstallHostsEntry(options: HostsOptions = {}): Promise<HostsResult> {
  const file = options.file ?? defaultHostsFile();
  const text = await readHosts(file);
  if (text === undefined) return { changed: false, file, message: `${file} does not exist; nothing to remove` };
  const lines = splitLines(text);
  const kept = lines.filter((l) => !isOurLine(l.content));
  if (kept.length === lines.length) return { changed: false, file, message: `${file} has no nhiicc line; nothing to remove` };
  let updated = kept.map((l) => l.content + l.eol).join('');
  const last = lines[lines.length - 1];
  const newLast = kept[kept.length - 1];
  // Install put a break before our unterminated last line; take it back with the line.
  if (last && isOurLine(last.content) && last.eol === '' && newLast) {
    updated = updated.slice(0, updated.length - newLast.eol.length);
  }
  await writeHosts(file, updated);
  return { changed: true, file, message: `removed the nhiicc line for ${NHI_HOST} from ${file}` };
}

export async function hostsStatus(options: HostsOptions = {}): Promise<HostsStatus> {
  const file = options.file ?? defaultHostsFile();
  const lines = splitLines((await readHosts(file).catch(() => undefined)) ?? '');
  return {
    file,
    hasOurLine: lines.some((l) => isOurLine(l.content)),
    fileMapsToLoopback: lines.some((l) => mapsToLoopback(l.content)),
    resolvesToLoopback: await (options.resolves ?? resolvesToLoopback)(NHI_HOST),
  };
}

interface Line {
  content: string;
  eol: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const re = /([^\r\n]*)(\r\n|\n|\r|$)/g;
  for (const match of text.matchAll(re)) {
    if (match[0] === '') break;
    lines.push({ content: match[1] ?? '', eol: match[2] ?? '' });
  }
  return lines;
}

function isOurLine(content: string): boolean {
  return content.includes(HOSTS_MARKER) && fields(content).includes(NHI_HOST);
}

function mapsToLoopback(content: string): boolean {
  const [address, ...names] = fields(content);
  return address !== undefined && isLoopbackAddress(address) && names.map((n) => n.toLowerCase()).includes(NHI_HOST);
}

function fields(content: string): string[] {
  return content.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
}

/** The file's text, or undefined when there is no such file. */
async function readHosts(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw explain(err, file, 'read');
  }
}

/** In place, not by rename: the hosts file is often a bind mount or has special ownership. */
async function writeHosts(file: string, text: string): Promise<void> {
  try {
    await fs.writeFile(file, text, 'latin1');
  } catch (err) {
    throw explain(err, file, 'write');
  }
}

function explain(err: unknown, file: string, verb: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    const how = process.platform === 'win32' ? 'from an elevated (Run as administrator) prompt' : 'with sudo';
    return new Error(`cannot ${verb} ${file}: permission denied; run the command ${how}`);
  }
  if (code === 'ENOENT') return new Error(`cannot ${verb} ${file}: its folder ${path.dirname(file)} does not exist`);
  return new Error(`cannot ${verb} ${file}: ${(err as Error).message}`);
}
