import readline from 'node:readline/promises';
import type { Command } from 'commander';
import {
  installBrowserPolicy,
  MANAGED_NOTICE,
  policyStatus,
  uninstallBrowserPolicy,
  type PolicyChange,
  type PolicyOptions,
} from '../browser-policy/browser-policy.js';
import { fail, failOnError } from './fail.js';

export interface BrowserPolicyCommandDeps {
  policy?: PolicyOptions;
  out?: (line: string) => void;
  /** Asks the user; undefined when nobody can answer (no terminal). */
  confirm?: ((question: string) => Promise<boolean>) | undefined;
}

export function registerBrowserPolicyCommand(program: Command, deps: BrowserPolicyCommandDeps = {}): void {
  const out = deps.out ?? ((line: string) => console.log(line));
  const confirm = 'confirm' in deps ? deps.confirm : process.stdin.isTTY ? askOnTerminal : undefined;
  const policy = program
    .command('browser-policy')
    .description('let gov.tw pages reach the local service without a Local Network Access prompt (Chrome, Chromium, Edge)');

  policy
    .command('install')
    .description('write the enterprise policies (needs administrator rights)')
    .option('--yes', 'accept the "managed by your organization" side effect without asking')
    .action(failOnError(async (opts: { yes?: boolean }) => {
      out(MANAGED_NOTICE);
      if (!opts.yes) {
        if (!confirm) fail('not confirmed: re-run with --yes to write the policies');
        if (!(await confirm('Write these policies? [y/N] '))) fail('cancelled: nothing was changed');
      }
      printChanges(out, await installBrowserPolicy(deps.policy), 'no Chrome, Chromium or Edge found: nothing written');
      out('restart the browser (or open chrome://policy and click "Reload policies") to apply');
    }));

  policy
    .command('uninstall')
    .description('remove the policy entries `browser-policy install` wrote')
    .action(failOnError(async () => {
      printChanges(out, await uninstallBrowserPolicy(deps.policy), 'no nhiicc browser policy found: nothing removed');
    }));

  policy
    .command('status')
    .description('show which browsers have the policies')
    .option('--json', 'machine-readable output')
    .action(failOnError(async (opts: { json?: boolean }) => {
      const states = await policyStatus(deps.policy);
      if (opts.json) return out(JSON.stringify(states, null, 2));
      if (states.length === 0) out('no Chrome, Chromium or Edge found');
      for (const s of states) {
        const set = Object.entries(s.policies).map(([name, ok]) => `${name} ${ok ? 'set' : 'not set'}`);
        out(`${s.browser} (${s.where}): ${set.join(', ')}`);
      }
    }));
}

function printChanges(out: (line: string) => void, changes: PolicyChange[], none: string): void {
  if (changes.length === 0) out(none);
  for (const change of changes) out(`${change.browser}: ${change.message}`);
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
