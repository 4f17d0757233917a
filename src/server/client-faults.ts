import type { FastifyRequest } from 'fastify';

/**
 * What pages and other clients get wrong is theirs, not ours: it is logged at
 * warn or below, without a stack trace, and at most once per connection, so
 * that a flood cannot grow the log faster than one line per connection plus
 * one per answered command. Error level is for our own faults.
 */

const noted = new WeakSet<object>();

/** Logs `msg` unless this request's connection already got such a line. */
export function noteOnce(req: FastifyRequest, level: 'warn' | 'info', obj: object, msg: string): void {
  // Injected requests (tests) have no socket; the request itself stands in.
  const connection: object = req.raw.socket ?? req.raw;
  if (noted.has(connection)) return;
  noted.add(connection);
  req.log[level](obj, msg);
}

/** Errors `ws` raises for a peer that breaks the WebSocket protocol (bad UTF-8, oversize, bad frames); it closes with 1002/1007/1008/1009 itself. */
export function isProtocolViolation(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('WS_ERR_');
}
