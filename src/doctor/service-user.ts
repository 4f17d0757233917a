import { SERVICE_USER } from '../config/paths.js';
import type { Runner } from '../util/runner.js';
import { type Check, informational } from './check.js';
import type { FileSystemView } from './official-component.js';

export interface ServiceUserDeps {
  platform: NodeJS.Platform;
  runner: Runner;
  files: FileSystemView;
  isRoot: boolean;
  /** The command line that runs this CLI again (node and its script). */
  self: string[];
}

export type ServiceUserChecks =
  /** Not root, not Linux, or no service user: the checks are this process's own. */
  | { kind: 'self' }
  | { kind: 'checked'; checks: Check[] }
  /** The checks could not run as that user: this process's own, with this note. */
  | { kind: 'unknown'; note: Check };

/** The hidden `doctor` option that prints only the PC/SC checks as JSON. */
export const PCSC_ONLY_OPTION = '--pcsc-only';

/**
 * The PC/SC checks as the service's user. Root meets pcscd as root, which
 * polkit always allows; the service meets it as its own user, outside any
 * login session. So when root runs doctor (as the package's install step
 * does) on a machine with the packages' user, the checks run as that user,
 * started the way systemd starts the service: a transient system unit, not
 * a child of root's session (which polkit may count as an active one).
 * Without systemd there are no sessions, and setpriv does the same.
 */
export async function pcscChecksAsServiceUser(deps: ServiceUserDeps): Promise<ServiceUserChecks> {
  if (deps.platform !== 'linux' || !deps.isRoot) return { kind: 'self' };
  // No such user: not installed from a package, so the service runs as whoever started it.
  if ((await deps.runner('getent', ['passwd', SERVICE_USER])).code !== 0) return { kind: 'self' };
  const command = [...deps.self, 'doctor', PCSC_ONLY_OPTION];
  const [cmd, ...args] = (await deps.files.exists('/run/systemd/system'))
    ? ['systemd-run', '--quiet', '--wait', '--pipe', '--collect', `--uid=${SERVICE_USER}`, `--gid=${SERVICE_USER}`, '--', ...command]
    : ['setpriv', `--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--clear-groups', '--', ...command];
  const r = await deps.runner(cmd!, args);
  const checks = parseChecks(r.stdout);
  if (r.code !== 0 || !checks) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n')[0];
    return {
      kind: 'unknown',
      note: informational(
        'pcsc-service-user',
        `could not check PC/SC as the service's user ${SERVICE_USER} (\`${cmd}\`: ${why}): the lines above are root's, whom pcscd always allows`,
        'the service logs what pcscd answers it: `journalctl -u nhiicc`',
      ),
    };
  }
  return { kind: 'checked', checks: checks.map((c) => ({ ...c, summary: `${c.summary} (as the service's user ${SERVICE_USER})` })) };
}

function parseChecks(text: string): Check[] | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (Array.isArray(parsed) && parsed.every((c) => typeof c?.id === 'string' && typeof c?.state === 'string' && typeof c?.summary === 'string')) {
      return parsed as Check[];
    }
  } catch {
    /* not our output: said below */
  }
  return undefined;
}
