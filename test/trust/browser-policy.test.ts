// Browser enterprise policies: exact reg/defaults command lines through the
// recording runner, and the Linux JSON files in a temporary tree.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { installBrowserPolicy, policyStatus, uninstallBrowserPolicy } from '../../src/browser-policy/browser-policy.js';
import { recordingRunner } from './recording-runner.js';

const NHI = 'https://[*.]nhi.gov.tw';
const GOV = 'https://[*.]gov.tw';
const CHROME = 'HKLM\\SOFTWARE\\Policies\\Google\\Chrome';

t.test('Windows: reg add at free value numbers, reg delete only our values', async (t) => {
  // An administrator already uses value 1 of Chrome's LocalNetworkAccessAllowedForUrls.
  const registry = new Map<string, Map<string, string>>([[`${CHROME}\\LocalNetworkAccessAllowedForUrls`, new Map([['1', 'https://intranet.example']])]]);
  const rec = recordingRunner((_line, _cmd, args) => {
    const [verb, key] = args as [string, string];
    const values = registry.get(key);
    if (verb === 'query') {
      if (!values) return { code: 1, stderr: 'ERROR: The system was unable to find the specified registry key or value.' };
      return { stdout: `\r\n${key}\r\n${[...values].map(([n, d]) => `    ${n}    REG_SZ    ${d}\r\n`).join('')}\r\n` };
    }
    if (verb === 'add') registry.set(key, (values ?? new Map()).set(args[3]!, args[7]!));
    if (verb === 'delete') values?.delete(args[3]!);
    return undefined;
  });
  const opts = { platform: 'win32' as const, runner: rec.runner };

  const added = await installBrowserPolicy(opts);
  const chromeLines = rec.lines.filter((l) => l.includes('Google\\Chrome'));
  t.same(chromeLines, [
    `reg query ${CHROME}\\LocalNetworkAccessAllowedForUrls`,
    `reg add ${CHROME}\\LocalNetworkAccessAllowedForUrls /v 2 /t REG_SZ /d ${NHI} /f`,
    `reg add ${CHROME}\\LocalNetworkAccessAllowedForUrls /v 3 /t REG_SZ /d ${GOV} /f`,
    `reg query ${CHROME}\\LoopbackNetworkAllowedForUrls`,
    `reg add ${CHROME}\\LoopbackNetworkAllowedForUrls /v 1 /t REG_SZ /d ${NHI} /f`,
    `reg add ${CHROME}\\LoopbackNetworkAllowedForUrls /v 2 /t REG_SZ /d ${GOV} /f`,
  ]);
  t.ok(rec.lines.includes(`reg add HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge\\LoopbackNetworkAllowedForUrls /v 1 /t REG_SZ /d ${NHI} /f`));
  t.ok(rec.lines.includes(`reg add HKLM\\SOFTWARE\\Policies\\Chromium\\LocalNetworkAccessAllowedForUrls /v 1 /t REG_SZ /d ${NHI} /f`));
  t.equal(added.filter((c) => c.changed).length, 6);

  rec.clear();
  t.ok((await installBrowserPolicy(opts)).every((c) => !c.changed), 'second install adds nothing');
  t.notOk(rec.lines.some((l) => l.startsWith('reg add')));

  const status = await policyStatus(opts);
  t.ok(status.every((s) => s.policies.LocalNetworkAccessAllowedForUrls && s.policies.LoopbackNetworkAllowedForUrls));

  rec.clear();
  await uninstallBrowserPolicy(opts);
  t.same(rec.lines.filter((l) => l.includes('Google\\Chrome')), [
    `reg query ${CHROME}\\LocalNetworkAccessAllowedForUrls`,
    `reg delete ${CHROME}\\LocalNetworkAccessAllowedForUrls /v 2 /f`,
    `reg delete ${CHROME}\\LocalNetworkAccessAllowedForUrls /v 3 /f`,
    `reg query ${CHROME}\\LoopbackNetworkAllowedForUrls`,
    `reg delete ${CHROME}\\LoopbackNetworkAllowedForUrls /v 1 /f`,
    `reg delete ${CHROME}\\LoopbackNetworkAllowedForUrls /v 2 /f`,
  ]);
  t.same([...registry.get(`${CHROME}\\LocalNetworkAccessAllowedForUrls`)!], [['1', 'https://intranet.example']], 'admin value kept');
});

t.test('macOS: defaults write/delete on /Library/Managed Preferences', async (t) => {
  const prefs = new Map<string, string[]>([['/Library/Managed Preferences/com.google.Chrome LoopbackNetworkAllowedForUrls', ['https://intranet.example']]]);
  const rec = recordingRunner((_line, _cmd, args) => {
    const [verb, domain, policy, mode, ...values] = args as [string, string, string, string, ...string[]];
    const k = `${domain} ${policy}`;
    if (verb === 'read') {
      const v = prefs.get(k);
      return v ? { stdout: `(\n${v.map((s) => `    "${s}"`).join(',\n')}\n)\n` } : { code: 1, stderr: 'does not exist' };
    }
    if (verb === 'write') prefs.set(k, mode === '-array-add' ? [...(prefs.get(k) ?? []), ...values] : values);
    if (verb === 'delete') prefs.delete(k);
    return undefined;
  });
  const opts = { platform: 'darwin' as const, runner: rec.runner };
  const D = '/Library/Managed Preferences/com.google.Chrome';

  await installBrowserPolicy(opts);
  t.same(rec.lines.slice(0, 4), [
    `defaults read ${D} LocalNetworkAccessAllowedForUrls`,
    `defaults write ${D} LocalNetworkAccessAllowedForUrls -array ${NHI} ${GOV}`,
    `defaults read ${D} LoopbackNetworkAllowedForUrls`,
    `defaults write ${D} LoopbackNetworkAllowedForUrls -array-add ${NHI} ${GOV}`,
  ]);
  t.ok(rec.lines.includes(`defaults write /Library/Managed Preferences/com.microsoft.Edge LocalNetworkAccessAllowedForUrls -array ${NHI} ${GOV}`));
  t.ok((await policyStatus(opts)).every((s) => s.policies.LoopbackNetworkAllowedForUrls));

  rec.clear();
  await uninstallBrowserPolicy(opts);
  t.same(rec.lines.slice(0, 4), [
    `defaults read ${D} LocalNetworkAccessAllowedForUrls`,
    `defaults delete ${D} LocalNetworkAccessAllowedForUrls`,
    `defaults read ${D} LoopbackNetworkAllowedForUrls`,
    `defaults write ${D} LoopbackNetworkAllowedForUrls -array https://intranet.example`,
  ]);
});

t.test('Linux: one nhiicc.json per installed browser, removed exactly', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nhiicc-policy-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const chromeBin = path.join(root, 'opt/google/chrome');
  await fs.mkdir(chromeBin, { recursive: true });
  await fs.mkdir(path.join(root, 'etc/opt/chrome/policies/managed'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc/opt/chrome/policies/managed/corp.json'), '{"HomepageLocation":"x"}');
  const linuxBrowsers = [
    { name: 'Google Chrome', policyDir: path.join(root, 'etc/opt/chrome/policies/managed'), installedAt: [chromeBin] },
    { name: 'Microsoft Edge', policyDir: path.join(root, 'etc/opt/edge/policies/managed'), installedAt: [path.join(root, 'opt/microsoft/msedge')] },
  ];
  const opts = { platform: 'linux' as const, linuxBrowsers };
  const file = path.join(root, 'etc/opt/chrome/policies/managed/nhiicc.json');

  const added = await installBrowserPolicy(opts);
  t.same(added.map((c) => [c.browser, c.changed]), [['Google Chrome', true]], 'Edge not installed: untouched');
  t.same(JSON.parse(await fs.readFile(file, 'utf8')), {
    LocalNetworkAccessAllowedForUrls: [NHI, GOV],
    LoopbackNetworkAllowedForUrls: [NHI, GOV],
  });
  t.equal((await fs.stat(file)).mode & 0o777, 0o644);
  t.notOk((await installBrowserPolicy(opts))[0]?.changed, 'idempotent');
  t.same(await policyStatus(opts), [
    { browser: 'Google Chrome', where: file, policies: { LocalNetworkAccessAllowedForUrls: true, LoopbackNetworkAllowedForUrls: true } },
  ]);
  await fs.access(path.join(root, 'etc/opt/edge')).then(
    () => t.fail('edge folder created'),
    () => t.pass('no folder for a browser that is not installed'),
  );

  const removed = await uninstallBrowserPolicy(opts);
  t.same(removed.map((c) => c.where), [file]);
  t.same(await fs.readdir(path.dirname(file)), ['corp.json'], 'other policy files kept');
});
