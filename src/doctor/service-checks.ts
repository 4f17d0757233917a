import { LAUNCHD_LABEL, NHI_PORT } from '../config/names.js';
import { windowsServiceLogFile } from '../config/paths.js';
import type { Runner } from '../util/runner.js';
import { asAdmin, type Check, failed, informational, passed } from './check.js';
import type { FileSystemView } from './official-component.js';

export const UNIT_FILES = ['/etc/systemd/system/nhiicc.service', '/lib/systemd/system/nhiicc.service', '/usr/lib/systemd/system/nhiicc.service'];
/** What starts nhiicc on Linux: systemd's socket, which starts the service on demand. */
export const ENABLE_SOCKET = 'systemctl enable --now nhiicc.socket';

export interface ServiceDeps {
  platform: NodeJS.Platform;
  runner: Runner;
  files: FileSystemView;
}

/** `service`: installed as the platform's service and running now. */
export async function serviceCheck(deps: ServiceDeps): Promise<Check> {
  if (deps.platform === 'win32') return windowsService(deps.runner);
  if (deps.platform === 'darwin') return darwinService(deps.runner);
  return linuxService(deps);
}

async function linuxService({ runner, files }: ServiceDeps): Promise<Check> {
  const id = 'service';
  const unitFiles: string[] = [];
  for (const f of UNIT_FILES) if (await files.exists(f)) unitFiles.push(f);
  // systemd's own test for "booted with systemd" (sd_booted): in a container
  // or WSL without it, systemctl cannot answer at all.
  if (!(await files.exists('/run/systemd/system'))) {
    return informational(
      id,
      `systemd is not running here, so whether nhiicc runs as a service cannot be told; ${unitFiles.length ? `unit installed at ${unitFiles.join(', ')}` : 'no nhiicc unit installed'} (the port check shows whether nhiicc answers)`,
      'start it yourself with `nhiicc serve` (or under this system\'s own service manager)',
      { systemd: false, unitFiles },
    );
  }
  // The packages enable nhiicc.socket: systemd listens on NHI_PORT and starts
  // the service on the first connection, so an idle service is not running.
  const socketEnabled = await runner('systemctl', ['is-enabled', 'nhiicc.socket']);
  const socketActive = await runner('systemctl', ['is-active', 'nhiicc.socket']);
  if (socketEnabled.code === 0 && socketActive.code === 0) {
    const service = (await runner('systemctl', ['is-active', 'nhiicc'])).stdout.trim() || 'unknown';
    return passed(
      id,
      `nhiicc.socket listens on port ${NHI_PORT} and starts the nhiicc service on the first connection (the service is ${service === 'active' ? 'running now' : `${service}: idle`})`,
      { systemd: true, unitFiles, socket: 'active', service },
    );
  }
  const enabled = await runner('systemctl', ['is-enabled', 'nhiicc']);
  const active = await runner('systemctl', ['is-active', 'nhiicc']);
  const enabledState = enabled.stdout.trim() || enabled.stderr.trim().split('\n')[0] || `exit ${enabled.code}`;
  const activeState = active.stdout.trim() || `exit ${active.code}`;
  const details = { systemd: true, unitFiles, enabled: enabledState, active: activeState };
  if (enabled.code !== 0 && /not[- ]found|No such file|does not exist/i.test(`${enabled.stdout}\n${enabled.stderr}`)) {
    return failed(id, 'the nhiicc service is not installed', 'install the nhiicc package (.deb or .rpm), or write a unit that runs `nhiicc serve`', details);
  }
  if (active.code === 0 && enabled.code === 0) return passed(id, 'the nhiicc service is enabled and running', details);
  if (active.code === 0) {
    return failed(id, `the nhiicc service runs but nothing starts it at boot (${enabledState}, nhiicc.socket not listening)`, `run ${asAdmin(ENABLE_SOCKET, 'linux')}`, details);
  }
  return failed(
    id,
    `the nhiicc service is ${activeState} (${enabledState}) and nhiicc.socket is not listening`,
    `run ${asAdmin(ENABLE_SOCKET, 'linux')}; if it fails, \`journalctl -u nhiicc.socket -u nhiicc\` says why`,
    details,
  );
}

async function darwinService(runner: Runner): Promise<Check> {
  const id = 'service';
  const r = await runner('launchctl', ['print', `system/${LAUNCHD_LABEL}`]);
  if (r.code !== 0) {
    return failed(
      id,
      `the nhiicc launch daemon ${LAUNCHD_LABEL} is not loaded`,
      `install the nhiicc .pkg, or ${asAdmin(`launchctl bootstrap system /Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`, 'darwin')}`,
      { loaded: false },
    );
  }
  const state = /^\s*state = (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? 'unknown';
  const pid = /^\s*pid = (\d+)$/m.exec(r.stdout)?.[1];
  const details = { loaded: true, state, ...(pid ? { pid: Number(pid) } : {}) };
  if (state === 'running') return passed(id, `the nhiicc launch daemon is running${pid ? ` (pid ${pid})` : ''}`, details);
  return failed(
    id,
    `the nhiicc launch daemon is loaded but ${state}`,
    `run ${asAdmin(`launchctl kickstart -k system/${LAUNCHD_LABEL}`, 'darwin')}; if it stops again, see /Library/Logs/nhiicc`,
    details,
  );
}

/** `sc.exe` prints states and start types as numbers too; the words are translated on some Windows languages. */
async function windowsService(runner: Runner): Promise<Check> {
  const id = 'service';
  const query = await runner('sc.exe', ['query', 'nhiicc']);
  if (query.code !== 0) {
    return failed(id, 'the nhiicc Windows service is not installed', 'install the nhiicc .msi', { installed: false, exitCode: query.code });
  }
  const state = Number(/STATE\s*:\s*(\d+)/.exec(query.stdout)?.[1] ?? 0);
  const config = await runner('sc.exe', ['qc', 'nhiicc']);
  const startType = Number(/START_TYPE\s*:\s*(\d+)/.exec(config.stdout)?.[1] ?? 0);
  const details = { installed: true, state, startType };
  const automatic = startType === 2;
  if (state === 4 && automatic) return passed(id, 'the nhiicc Windows service is running and starts automatically', details);
  if (state === 4) {
    return failed(id, 'the nhiicc Windows service runs but does not start automatically', `run ${asAdmin('sc.exe config nhiicc start= auto', 'win32')}`, details);
  }
  return failed(
    id,
    `the nhiicc Windows service is not running (state ${state})`,
    `run ${asAdmin('sc.exe start nhiicc', 'win32')}${automatic ? '' : ` and ${asAdmin('sc.exe config nhiicc start= auto', 'win32')}`}; its log ${windowsServiceLogFile()} says why it stopped`,
    details,
  );
}
