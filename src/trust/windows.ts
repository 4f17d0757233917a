import type { RunResult } from '../util/runner.js';
import { type CaInfo, emptyChange, type TrustContext, type TrustStore } from './trust-store.js';

export const WINDOWS_STORE = 'windows-root';

/**
 * The machine-wide "Trusted Root Certification Authorities" store, which
 * Edge, Chrome and (with enterprise roots, the default) Firefox use.
 */
export function windowsStore(ctx: TrustContext, storeName = 'Root'): TrustStore {
  const label = 'Windows Trusted Root store';
  const failure = (verb: string, result: RunResult) => {
    const change = emptyChange(WINDOWS_STORE);
    const output = `${result.stdout}\n${result.stderr}`;
    if (/access is denied|0x80070005/i.test(output)) {
      change.status = 'needs-privileges';
      change.notes.push(`${label}: not changed, ${verb} it needs an elevated (Run as administrator) prompt`);
    } else {
      change.status = 'failed';
      change.notes.push(`${label}: certutil failed (exit ${result.code}): ${lastLine(output)}`);
    }
    return change;
  };

  const has = async (ca: CaInfo) => (await ctx.runner('certutil', ['-store', storeName, ca.serial])).code === 0;

  return {
    name: WINDOWS_STORE,
    label,
    async available() {
      return ctx.platform === 'win32';
    },

    async install(ca) {
      const change = emptyChange(WINDOWS_STORE);
      const record = { store: WINDOWS_STORE, location: storeName, name: ca.serial };
      if (await has(ca)) {
        change.added.push(record);
        change.notes.push(`${label}: already trusts the CA`);
        return change;
      }
      const result = await ctx.runner('certutil', ['-addstore', '-f', storeName, ca.file]);
      if (result.code !== 0) return failure('adding to', result);
      change.added.push(record);
      change.status = 'changed';
      change.notes.push(`${label}: added the CA (serial ${ca.serial})`);
      return change;
    },

    async uninstall(ca, records) {
      const change = emptyChange(WINDOWS_STORE);
      const targets = records
        ? records.filter((r) => r.store === WINDOWS_STORE)
        : [{ store: WINDOWS_STORE, location: storeName, name: ca.serial }];
      const ours = targets.filter((r) => r.name === ca.serial);
      if (ours.length === 0 || !(await has(ca))) {
        change.notes.push(`${label}: nothing of ours to remove`);
        return change;
      }
      const result = await ctx.runner('certutil', ['-delstore', storeName, ca.serial]);
      if (result.code !== 0) return failure('removing from', result);
      change.removed.push(...ours);
      change.status = 'changed';
      change.notes.push(`${label}: removed the CA (serial ${ca.serial})`);
      return change;
    },

    async trustedIn(ca) {
      return [{ location: storeName, trusted: await has(ca) }];
    },
  };
}

function lastLine(text: string): string {
  return text.trim().split(/\r?\n/).filter(Boolean).pop() ?? '';
}
