import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { CardAccess } from '../../src/pcsc/card-readers.js';
import { makeCertificate } from '../doctor/helpers.js';
import { serve } from '../helpers/served.js';

const noCard: CardAccess = {
  withCard: async () => {
    throw new Error('not used');
  },
  status: () => ({ available: true, readers: [] }),
  close: async () => undefined,
};

/** The service's log after starting on a certificate with `days` left. */
async function startupLog(t: Test, days: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-expiry-'));
  const c = await makeCertificate({ days });
  fs.writeFileSync(path.join(dir, 'ca.crt'), c.caPem);
  fs.writeFileSync(path.join(dir, 'server.crt'), c.certPem);
  fs.writeFileSync(path.join(dir, 'server.key'), c.keyPem, { mode: 0o600 });
  const served = await serve({ card: noCard, configDir: dir, logLevel: 'info' });
  t.teardown(async () => {
    await served.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return served.logText();
}

t.test('the service warns when its certificate expires within 30 days', async (t) => {
  t.match(await startupLog(t, 10), /"level":40[^\n]*expires on \d{4}-\d{2}-\d{2} \(9 days left\)[^\n]*cert renew/);
});

t.test('no warning with more than 30 days left', async (t) => {
  t.notMatch(await startupLog(t, 60), /cert renew/);
});
