import { runChecked } from './runner.js';
import { emptyChange, type TrustContext, type TrustStore } from './trust-store.js';

export const DARWIN_STORE = 'macos-keychain';
export const SYSTEM_KEYCHAIN = '/Library/Keychains/System.keychain';

/** The macOS System keychain, which Safari, Chrome and curl trust. */
export function darwinStore(ctx: TrustContext, keychain = SYSTEM_KEYCHAIN): TrustStore {
  const label = 'macOS System keychain';
  const sha1 = (hex: string) => hex.toUpperCase();
  const present = async (hash: string) => {
    const result = await ctx.runner('security', ['find-certificate', '-a', '-Z', keychain]);
    return result.code === 0 && result.stdout.toUpperCase().includes(`SHA-1 HASH: ${sha1(hash)}`);
  };
  const needsRoot = (verb: string) => {
    const change = emptyChange(DARWIN_STORE);
    change.status = 'needs-privileges';
    change.notes.push(`${label}: not changed, ${verb} it needs an administrator (run with sudo)`);
    return change;
  };

  return {
    name: DARWIN_STORE,
    label,
    async available() {
      return ctx.platform === 'darwin';
    },

    async install(ca) {
      const change = emptyChange(DARWIN_STORE);
      const record = { store: DARWIN_STORE, location: keychain, name: sha1(ca.sha1) };
      if (await this.isTrusted(ca)) {
        change.added.push(record);
        change.notes.push(`${label}: already trusts the CA`);
        return change;
      }
      if (!ctx.isRoot) return needsRoot('adding to');
      await runChecked(ctx.runner, 'security', ['add-trusted-cert', '-d', '-r', 'trustRoot', '-k', keychain, ca.file]);
      change.added.push(record);
      change.status = 'changed';
      change.notes.push(`${label}: added the CA as a trusted root (SHA-1 ${sha1(ca.sha1)})`);
      return change;
    },

    async uninstall(ca, records) {
      const change = emptyChange(DARWIN_STORE);
      const targets = records
        ? records.filter((r) => r.store === DARWIN_STORE)
        : [{ store: DARWIN_STORE, location: keychain, name: sha1(ca.sha1) }];
      const ours = targets.filter((r) => r.name === sha1(ca.sha1));
      if (ours.length === 0 || !(await present(ca.sha1))) {
        change.notes.push(`${label}: nothing of ours to remove`);
        return change;
      }
      if (!ctx.isRoot) return needsRoot('removing from');
      // Trust settings live apart from the certificate; drop both so nothing is left behind.
      await runChecked(ctx.runner, 'security', ['remove-trusted-cert', '-d', ca.file]);
      await runChecked(ctx.runner, 'security', ['delete-certificate', '-Z', sha1(ca.sha1), keychain]);
      change.removed.push(...ours);
      change.status = 'changed';
      change.notes.push(`${label}: removed the CA (SHA-1 ${sha1(ca.sha1)}) and its trust setting`);
      return change;
    },

    async isTrusted(ca) {
      if (!(await present(ca.sha1))) return false;
      return (await ctx.runner('security', ['verify-cert', '-c', ca.file])).code === 0;
    },
  };
}
