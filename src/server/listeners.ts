import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../util/loopback.js';

/** Where the service listens, and how it stops listening. */
export interface Listening {
  port: number;
  addresses: string[];
  /** The sockets came from systemd (socket activation). */
  activated: boolean;
  close(): void;
}

/** The first file descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_PASSED_FD = 3;

/**
 * The listening sockets systemd passed, as sd_listen_fds(3) reads them:
 * LISTEN_FDS of them from fd 3, when LISTEN_PID names this process. The
 * variables are removed, so that a program this one starts does not take
 * them for its own.
 */
export function passedSockets(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number[] {
  const count = Number(env.LISTEN_FDS);
  const forUs = Number(env.LISTEN_PID) === pid;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(count) || count < 1) return [];
  return Array.from({ length: count }, (_, i) => FIRST_PASSED_FD + i);
}

/** A TCP listener handing its connections to the HTTPS server. */
function forwarder(app: FastifyInstance): net.Server {
  return net.createServer((socket) => app.server.emit('connection', socket));
}

function listening(server: net.Server, how: net.ListenOptions | { fd: number }): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(how, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

const show = (a: AddressInfo) => a.address;

export class NotLoopbackError extends Error {}

function refuseNonLoopback(addresses: string[], what: string): void {
  const outside = addresses.filter((a) => !isLoopbackHost(a));
  if (outside.length > 0) throw new NotLoopbackError(`refusing to serve: ${what} ${outside.join(', ')}, which is not this computer's loopback`);
}

/**
 * Socket activation: the sockets systemd listens on while the service is not
 * running. A page that connected meanwhile waits in their backlog and is
 * answered as soon as these listeners take them.
 */
async function listenOnPassed(app: FastifyInstance, fds: number[]): Promise<Listening> {
  await app.ready();
  const servers = await Promise.all(fds.map((fd) => listening(forwarder(app), { fd })));
  const close = () => {
    for (const s of servers) s.close();
  };
  const addresses = servers.map((s) => show(s.address() as AddressInfo));
  try {
    refuseNonLoopback(addresses, 'systemd passed sockets on');
  } catch (err) {
    close();
    throw err;
  }
  return { port: (servers[0]!.address() as AddressInfo).port, addresses, activated: true, close };
}

/**
 * host:port, and with the default host [::1] as well: many hosts files map
 * localhost to 127.0.0.1 only, so ::1 gets its own listener that hands
 * connections to the same HTTPS server (none where there is no IPv6 loopback).
 */
async function listenOn(app: FastifyInstance, host: string, port: number, alsoIpv6: boolean): Promise<Listening> {
  await app.listen({ host, port });
  const addresses = (app.addresses() as AddressInfo[]).map(show);
  try {
    refuseNonLoopback(addresses, `${host} resolved to`);
  } catch (err) {
    await app.close();
    throw err;
  }
  const bound = (app.addresses()[0] as AddressInfo).port;
  const ipv6 = alsoIpv6 ? await listening(forwarder(app), { host: '::1', port: bound, ipv6Only: true }).catch(() => undefined) : undefined;
  if (ipv6) addresses.push('::1');
  return { port: bound, addresses, activated: false, close: () => ipv6?.close() };
}

export function listen(app: FastifyInstance, options: { host: string; port: number; alsoIpv6: boolean; passed: number[] }): Promise<Listening> {
  return options.passed.length > 0 ? listenOnPassed(app, options.passed) : listenOn(app, options.host, options.port, options.alsoIpv6);
}
