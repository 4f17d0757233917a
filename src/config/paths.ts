import os from 'node:os';
import path from 'node:path';
import { isRoot } from '../util/is-root.js';

/**
 * Where the certificate and config file live when --config-dir is not given.
 * A system service (root or the dedicated service user) uses the system folder
 * so that installers, `nhiicc cert` and the service agree on one place.
 */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.NHIICC_CONFIG_DIR) return env.NHIICC_CONFIG_DIR;
  switch (platform) {
    case 'win32':
      return path.join(env.ProgramData ?? 'C:\\ProgramData', 'nhiicc');
    case 'darwin':
      return '/Library/Application Support/nhiicc';
    default:
      return isRoot() ? '/etc/nhiicc' : path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'nhiicc');
  }
}

/**
 * The Windows service's log: under ProgramData, where the installer gives
 * the service's account write access, whatever --config-dir says.
 */
export function windowsServiceLogFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.win32.join(env.ProgramData ?? 'C:\\ProgramData', 'nhiicc', 'logs', 'nhiicc.log');
}

/** The system user the Linux packages create and run the service as (systemd/nhiicc.service). */
export const SERVICE_USER = 'nhiicc';

/**
 * The polkit rule the Linux packages ship so that SERVICE_USER may use pcscd:
 * pcsc-lite built with polkit allows only users with an active local session.
 */
export const POLKIT_RULE = '/etc/polkit-1/rules.d/60-nhiicc-pcscd.rules';
