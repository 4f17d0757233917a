import { X509Certificate } from 'node:crypto';
import type { LinuxBrowser } from '../browser-policy/linux-policy.js';
import { NHI_CARD } from '../card/operations.js';
import { openCardReaders } from '../pcsc/index.js';
import { sha256Fingerprint } from '../tls/certificates.js';
import { isRoot } from '../util/is-root.js';
import type { Runner } from '../util/runner.js';
import { defaultTrustContext } from '../trust/trust.js';
import type { TrustContext } from '../trust/trust-store.js';
import { type Check, isOk } from './check.js';
import { certificateCheck, readCertificateFiles, trustChecks } from './certificate-checks.js';
import { findListeners, hostsCheck, type Listener, portCheck, probePort, type Prober } from './network-checks.js';
import { findOfficialComponent, officialComponentCheck, realFiles, type FileSystemView } from './official-component.js';
import { pcscChecks, type ReaderLayer } from './pcsc-checks.js';
import { browserPolicyCheck } from './policy-check.js';
import { serviceCheck } from './service-checks.js';
import { pcscChecksAsServiceUser, type ServiceUserChecks } from './service-user.js';

export interface DoctorOptions {
  configDir: string;
  /** The folder as the user gave it (--config-dir), repeated in fixes. */
  userConfigDir?: string;
  port: number;
  hostsFile?: string;
}

/** Everything doctor touches outside itself; tests replace any of it. */
export interface DoctorDeps {
  platform: NodeJS.Platform;
  runner: Runner;
  files: FileSystemView;
  openReaders: () => ReaderLayer;
  /** PC/SC as the service's user sees it, when that is not this process's view. */
  pcscAsServiceUser: () => Promise<ServiceUserChecks>;
  resolves?: (name: string) => Promise<boolean>;
  probe: Prober;
  findListeners?: (port: number) => Promise<Listener[]>;
  /** Built once, by defaultDoctorDeps: the trust checks and the runner share it. */
  trust: TrustContext;
  linuxBrowsers?: LinuxBrowser[];
  now: () => Date;
}

/** What a caller may replace; the trust context is given in part and completed once. */
export type DoctorOverrides = Partial<Omit<DoctorDeps, 'trust'>> & { trust?: Partial<TrustContext> };

export function defaultDoctorDeps(overrides: DoctorOverrides = {}): DoctorDeps {
  const platform = overrides.platform ?? process.platform;
  const base = overrides.runner ? { runner: overrides.runner } : {};
  const trust = defaultTrustContext({ platform, ...base, ...overrides.trust });
  const runner = trust.runner;
  const files = overrides.files ?? realFiles;
  return {
    platform,
    runner,
    files,
    openReaders: () => openCardReaders({ wanted: NHI_CARD, settleMs: 3000 }),
    pcscAsServiceUser: () =>
      pcscChecksAsServiceUser({ platform, runner, files, isRoot: isRoot(), self: [process.execPath, process.argv[1]!] }),
    probe: probePort(),
    now: () => new Date(),
    ...overrides,
    trust,
  };
}

export interface DoctorReport {
  ok: boolean;
  checks: Array<{ id: string; ok: boolean; state: Check['state']; summary: string; fix?: string; details?: Record<string, unknown> }>;
}

/** Runs every check; the slow groups (card, port) run side by side, the order stays fixed. */
export async function runDoctor(options: DoctorOptions, deps: DoctorDeps): Promise<DoctorReport> {
  const { platform, runner } = deps;
  const files = await readCertificateFiles(options.configDir);
  const serverSha256 = (() => {
    try {
      return files.cert ? sha256Fingerprint(new X509Certificate(files.cert)) : undefined;
    } catch {
      return undefined;
    }
  })();

  const official = findOfficialComponent({ platform, runner, files: deps.files });
  const groups: Array<Promise<Check[]>> = [
    guard('pcsc-service', async () => {
      const asService = await deps.pcscAsServiceUser();
      if (asService.kind === 'checked') return asService.checks;
      const own = await pcscOnly(deps);
      return asService.kind === 'unknown' ? [...own, asService.note] : own;
    }),
    guard('certificate', async () => [certificateCheck(options.configDir, files, deps.now(), options.userConfigDir, platform)]),
    guard('trust-system', () => trustChecks(options.configDir, files, deps.trust, options.userConfigDir)),
    guard('hosts', async () => [
      await hostsCheck({ platform, ...(options.hostsFile !== undefined ? { hostsFile: options.hostsFile } : {}), ...(deps.resolves ? { resolves: deps.resolves } : {}) }),
    ]),
    guard('port', async () => [
      await portCheck({
        port: options.port,
        platform,
        probe: deps.probe,
        findListeners: deps.findListeners ?? ((port) => findListeners(port, platform, runner)),
        configDir: options.configDir,
        ...(serverSha256 ? { expectedCertSha256: serverSha256 } : {}),
        officialFound: (await official).length > 0,
      }),
    ]),
    guard('official-component', async () => [officialComponentCheck(await official, platform)]),
    guard('service', async () => [await serviceCheck({ platform, runner, files: deps.files })]),
    guard('browser-policy', async () => [
      await browserPolicyCheck({ platform, runner, ...(deps.linuxBrowsers ? { linuxBrowsers: deps.linuxBrowsers } : {}) }),
    ]),
  ];
  const checks = (await Promise.all(groups)).flat();
  return {
    ok: checks.every(isOk),
    checks: checks.map((c) => ({ id: c.id, ok: isOk(c), state: c.state, summary: c.summary, ...(c.fix ? { fix: c.fix } : {}), ...(c.details ? { details: c.details } : {}) })),
  };
}

/** The PC/SC checks as this process meets pcscd (what `doctor --pcsc-only` prints). */
export function pcscOnly(deps: Pick<DoctorDeps, 'openReaders' | 'platform'>): Promise<Check[]> {
  return pcscChecks(deps.openReaders, deps.platform);
}

/** A check group that throws becomes one failed line instead of ending the run. */
async function guard(id: string, run: () => Promise<Check[]>): Promise<Check[]> {
  try {
    return await run();
  } catch (err) {
    return [
      {
        id,
        state: 'fail',
        summary: `the check itself failed: ${(err as Error)?.message ?? String(err)}`,
        fix: 'report this at the nhiicc issue tracker with the output of `nhiicc doctor --json`',
      },
    ];
  }
}

const MARK: Record<Check['state'], string> = { pass: '✓', fail: '✗', skip: '–', info: '–' };

/** One line per check; a fix or hint follows on an indented line. */
export function formatReport(report: DoctorReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.state]} ${c.id.padEnd(width)}  ${c.summary}`);
    if (c.fix) lines.push(`  ${' '.repeat(width)}  ${c.state === 'fail' ? 'fix' : 'hint'}: ${c.fix}`);
  }
  const failures = report.checks.filter((c) => c.state === 'fail').length;
  lines.push(report.ok ? 'all checks passed' : `${failures} check${failures === 1 ? '' : 's'} failed`);
  return lines;
}
