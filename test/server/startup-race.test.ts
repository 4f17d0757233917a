import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { CardAccess } from '../../src/pcsc/card-readers.js';
import { CA_FILE, ensureServerCertificate } from '../../src/tls/certificates.js';
import { type Served, openSocket, serve } from '../helpers/served.js';

/**
 * Connections that arrive while the service is still starting: the first
 * listener (127.0.0.1) is open while the second (::1) starts. That start is
 * made slow here, so the window is wide; every upgrade in it must succeed.
 */

const SECOND_LISTENER_DELAY_MS = 500;
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  const o = args[0] as { host?: string } | undefined;
  if (o?.host === '::1') {
    setTimeout(() => listen.apply(this, args as never), SECOND_LISTENER_DELAY_MS);
    return this;
  }
  return listen.apply(this, args as never);
} as typeof listen;
t.teardown(() => {
  net.Server.prototype.listen = listen;
});

const noCard: CardAccess = {
  withCard: async () => {
    throw new Error('no card in this test');
  },
  status: () => ({ available: true, readers: [] }),
  close: async () => undefined,
};

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => listen.call(s, { port: 0, host: '127.0.0.1' }, () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

t.test('an upgrade racing the second listener never gets a 500', async (t) => {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhiicc-race-'));
  t.teardown(() => fs.rmSync(configDir, { recursive: true, force: true }));
  await ensureServerCertificate(configDir);
  const ca = fs.readFileSync(path.join(configDir, CA_FILE), 'utf8');
  const port = await freePort();
  let served: Served | undefined;
  const statuses: number[] = [];
  let duringStart = 0;
  const hammer = async () => {
    while (!served || statuses.length < 20) {
      try {
        const ws = await openSocket(port, ca);
        statuses.push(101);
        if (!served) duringStart++;
        ws.close();
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status !== undefined) statuses.push(status);
        else await sleep(1); // not listening yet
      }
    }
  };
  const hammers = Promise.all(Array.from({ length: 4 }, hammer));
  served = await serve({ port, configDir, card: noCard });
  t.teardown(() => served!.close());
  await hammers;
  t.ok(duringStart > 0, `${duringStart} upgrades completed while the second listener was starting`);
  t.same([...new Set(statuses)], [101], 'every upgrade succeeded');
  t.notMatch(served.logText(), /"level":50/, 'nothing went wrong on our side');
});
