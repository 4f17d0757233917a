import path from 'node:path';
import { Option, type Command } from 'commander';
import { defaultConfigDir } from '../config/paths.js';
import {
  describeCertificate,
  ensureServerCertificate,
  expiryWarning,
  renewCertificates,
  SERVER_CERT_FILE,
  type CertificateDescription,
} from '../tls/certificates.js';
import { confirmOwnTrust } from '../trust/darwin.js';
import { PROMPT_MODES, type Change, type PromptMode, type TrustContext } from '../trust/trust-store.js';
import { readTrustState } from '../trust/trust-state.js';
import { defaultTrustContext, installTrust, trustStatus, uninstallTrust, type TrustOptions } from '../trust/trust.js';
import { fail, failOnError } from './fail.js';
import { exists } from '../util/files.js';

export interface CertCommandDeps {
  trust?: TrustOptions;
  out?: (line: string) => void;
}

interface DirOption {
  configDir?: string;
}

export function registerCertCommand(program: Command, deps: CertCommandDeps = {}): void {
  const out = deps.out ?? ((line: string) => console.log(line));
  const dirOf = (opts: DirOption) => opts.configDir ?? defaultConfigDir();
  const cert = program.command('cert').description("the service's TLS certificate and who trusts it");
  const withDir = (cmd: Command) => cmd.option('--config-dir <dir>', 'certificate folder (env NHIICC_CONFIG_DIR)');

  withDir(cert.command('init').description('create the CA and server certificate if missing'))
    .action(failOnError(async (opts: DirOption) => {
      const dir = dirOf(opts);
      const existed = await exists(path.join(dir, SERVER_CERT_FILE));
      const tls = await ensureServerCertificate(dir);
      out(`${existed ? 'certificate already present' : 'created a new CA and server certificate'} in ${dir} (valid until ${day(tls.notAfter)})`);
      if (!existed) out('the CA private key was discarded after signing; run `nhiicc cert install` so browsers trust it');
    }));

  withDir(cert.command('install').description('make the system and browsers trust the CA (creates it if missing)'))
    .addOption(
      new Option('--prompt <when>', 'macOS: when to ask the user at the screen to confirm with their password (the others are asked at their next login)')
        .choices(PROMPT_MODES)
        .default('always'),
    )
    .action(failOnError(async (opts: DirOption & { prompt: PromptMode }) => {
      const dir = dirOf(opts);
      await ensureServerCertificate(dir);
      report(out, await installTrust(dir, withContext(deps.trust, { prompt: opts.prompt, say: out })), 'install');
    }));

  cert
    .command('confirm')
    .description('macOS: trust the CA for yourself (macOS asks for your login password)')
    .option('--at-login', "as nhiicc's login item: explain first, never after two declines")
    .action(failOnError(async (opts: { atLogin?: boolean }) => {
      const ctx = defaultTrustContext({ ...deps.trust?.context, say: out });
      if (ctx.platform !== 'darwin') fail('`nhiicc cert confirm` is for macOS; elsewhere run `sudo nhiicc cert install`');
      if (ctx.isRoot) fail('run `nhiicc cert confirm` as yourself, without sudo: it changes your own trust settings');
      const { change, trusted } = await confirmOwnTrust(ctx, opts.atLogin === true);
      for (const note of change.notes) out(note);
      // The login item has no one to tell; its log keeps the notes.
      if (!trusted && !opts.atLogin) fail('the nhiicc CA is not trusted for you yet (see above)');
    }));

  withDir(cert.command('uninstall').description('remove exactly what `cert install` added'))
    .action(failOnError(async (opts: DirOption) => {
      report(out, await uninstallTrust(dirOf(opts), withContext(deps.trust, { say: out })), 'uninstall');
    }));

  withDir(cert.command('renew').description('replace CA and server certificate, moving trust to the new CA'))
    .action(failOnError(async (opts: DirOption) => {
      const dir = dirOf(opts);
      const wasTrusted = (await readTrustState(dir)).cas.length > 0;
      const tls = await renewCertificates(dir);
      out(`created a new CA and server certificate in ${dir} (valid until ${day(tls.notAfter)})`);
      if (wasTrusted) report(out, await installTrust(dir, withContext(deps.trust, { say: out })), 'install');
      else out('nothing trusted the old CA; run `nhiicc cert install` to trust the new one');
      out('restart the nhiicc service so it serves the new certificate');
    }));

  withDir(cert.command('status').description('show the certificates and which stores trust them'))
    .option('--json', 'machine-readable output')
    .action(failOnError(async (opts: DirOption & { json?: boolean }) => {
      const dir = dirOf(opts);
      const description = await describeCertificate(dir);
      const trust = await trustStatus(dir, deps.trust);
      const warning = expiryWarning({ dir, notAfter: description.server.notAfter });
      if (opts.json) {
        out(JSON.stringify({ ...description, trust, ...(warning ? { warning } : {}) }, null, 2));
        return;
      }
      out(`folder: ${dir}`);
      printCert(out, 'server certificate', description.server);
      printCert(out, 'CA', description.ca);
      out('trust:');
      for (const s of trust) out(`  ${s.label}: ${!s.available ? 'not present on this system' : s.trusted ? 'trusted' : 'NOT trusted'}`);
      if (warning) out(`warning: ${warning}`);
    }));
}

function report(out: (line: string) => void, changes: Change[], verb: 'install' | 'uninstall'): void {
  if (changes.length === 0) out(verb === 'install' ? 'no certificate store found to change' : 'nothing to remove: no store has our CA');
  for (const change of changes) for (const note of change.notes) out(note);
  const needsAdmin = changes.filter((c) => c.status === 'needs-privileges');
  const failed = changes.filter((c) => c.status === 'failed');
  const pending = changes.filter((c) => c.status === 'pending');
  if (failed.length > 0) fail(`${verb} incomplete: ${failed.map((c) => c.store).join(', ')} failed (see above)`);
  if (pending.length > 0) fail(`${verb} incomplete: ${pending.map((c) => c.store).join(', ')}: confirmation pending (see above)`);
  if (needsAdmin.length > 0) {
    fail(`${verb} incomplete: ${needsAdmin.map((c) => c.store).join(', ')} need administrator rights; run \`sudo nhiicc cert ${verb}\` (Windows: an elevated prompt)`);
  }
}

function withContext(options: TrustOptions | undefined, context: Partial<TrustContext>): TrustOptions {
  return { ...options, context: { ...options?.context, ...context } };
}

function printCert(out: (line: string) => void, title: string, d: CertificateDescription): void {
  out(`${title}:`);
  out(`  subject:    ${d.subject}`);
  if (d.subjectAltNames.length > 0) out(`  names:      ${d.subjectAltNames.join(', ')}`);
  out(`  SHA-256:    ${d.sha256}`);
  out(`  valid:      ${d.notBefore.toISOString()} to ${d.notAfter.toISOString()}`);
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

