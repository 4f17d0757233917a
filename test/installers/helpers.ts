import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '..', '..');

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: env ?? process.env });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** The subcommands `nhiicc --help` lists in this checkout's build. */
export function cliCommands(): Set<string> {
  const r = run(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--help']);
  const names = new Set<string>();
  let inCommands = false;
  for (const line of r.stdout.split('\n')) {
    if (/^Commands:/.test(line)) inCommands = true;
    else if (inCommands) {
      const m = /^ {2}(\S+)/.exec(line);
      if (m) names.add(m[1]!);
    }
  }
  return names;
}

/** A systemd unit's [Service] settings; repeated keys keep every value in order. */
export function parseUnit(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = pending + raw.trim();
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1) + ' ';
      continue;
    }
    pending = '';
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = `${section}.${line.slice(0, eq).trim()}`;
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return settings;
}

/** `Environment=A=1 "B=two words"` → { A: '1', B: 'two words' }. */
export function unitEnvironment(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values) {
    for (const m of value.matchAll(/"([^"]*)"|(\S+)/g)) {
      const word = m[1] ?? m[2]!;
      const eq = word.indexOf('=');
      if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}

/** ExecStart split like systemd does for plain words and double quotes (no specifiers used). */
export function execArgv(value: string): string[] {
  const v = value.replace(/^[-@:+!]+/, '');
  return [...v.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function listTree(p: string): string[] {
  if (!fs.existsSync(p)) return [];
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return [p];
  return [p, ...fs.readdirSync(p).sort().flatMap((e) => listTree(path.join(p, e)))];
}

function fileHash(p: string): string {
  try {
    return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  } catch {
    return 'absent';
  }
}

/** What installing nhiicc may touch, so before/after purge can be compared. */
export function systemSnapshot(): Record<string, unknown> {
  const nss = '/root/.pki/nssdb';
  return {
    files: [
      '/opt/nhiicc',
      '/etc/nhiicc',
      '/usr/local/share/NHIICC',
      '/usr/bin/nhiicc',
      '/lib/systemd/system/nhiicc.service',
      '/etc/systemd/system/multi-user.target.wants/nhiicc.service',
      '/etc/polkit-1/rules.d/60-nhiicc-pcscd.rules',
    ].flatMap(listTree),
    user: run('getent', ['passwd', 'nhiicc']).stdout,
    group: run('getent', ['group', 'nhiicc']).stdout,
    localCas: listTree('/usr/local/share/ca-certificates'),
    // update-ca-certificates run by a concurrent test leaves a transient *.new.
    systemCertLinks: fs.readdirSync('/etc/ssl/certs').filter((f) => !f.endsWith('.new')).sort(),
    systemBundle: fileHash('/etc/ssl/certs/ca-certificates.crt'),
    hosts: fs.readFileSync('/etc/hosts', 'utf8'),
    rootNss: fs.existsSync(nss) ? run('certutil', ['-L', '-d', `sql:${nss}`]).stdout : 'absent',
    processes: run('pgrep', ['-a', '-u', 'nhiicc']).stdout,
    dpkg: run('dpkg-query', ['-W', '-f', '${Status}', 'nhiicc']).stdout,
  };
}
