import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { type CommandContext, runCommand } from '../protocol/commands.js';
import { SERVICE_ERROR } from '../protocol/error-codes.js';
import { isProtocolViolation, noteOnce } from './client-faults.js';
import type { OriginPolicy } from './origin-policy.js';

export interface EchoOptions {
  policy: OriginPolicy;
  context: Omit<CommandContext, 'clearance' | 'signal'>;
  maxConnections?: number;
  pingIntervalMs?: number;
}

export const MAX_FRAME_BYTES = 4096;
/**
 * Commands one connection may have waiting or running, replies not yet
 * handed to the network included. Pages wait for each reply before the next
 * command; one that sends more is closed before its backlog reaches the card.
 */
export const MAX_UNANSWERED = 8;

/**
 * `/echo`: the official text protocol (docs/protocol.md §1 frames, §2
 * commands), one reply per text frame. Each
 * connection runs its commands one at a time, in order, so it has at most one
 * operation queued at the card layer: connections take turns at the card, and
 * a new one waits for at most one operation of every other busy connection.
 */
export const echoRoute: FastifyPluginAsync<EchoOptions> = async (app, opts) => {
  const maxConnections = opts.maxConnections ?? 64;
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000;
  let open = 0;

  app.get(
    '/echo',
    {
      websocket: true,
      preValidation: async (req, reply) => {
        const origin = req.headers.origin;
        if (opts.policy.clearance(origin) === 'refused') {
          noteOnce(req, 'warn', { origin: origin ?? '(none)' }, 'origin refused');
          return reply.code(403).send('origin not allowed\n');
        }
        if (open >= maxConnections) {
          noteOnce(req, 'warn', { open }, 'too many connections');
          return reply.code(503).send('too many connections\n');
        }
      },
    },
    (socket: WebSocket, req) => {
      open++;
      const clearance = opts.policy.clearance(req.headers.origin) === 'full' ? 'full' : 'version-only';
      let alive = true;
      socket.on('pong', () => (alive = true));
      const pinger = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, pingIntervalMs);
      socket.on('close', () => {
        open--;
        clearInterval(pinger);
      });
      serveCommands(socket, req, { ...opts.context, clearance });
    },
  );
};

/** @fastify/websocket's errorHandler: a page that breaks the WebSocket protocol is its fault, anything else ours. */
export function onSocketError(err: unknown, socket: WebSocket, req: FastifyRequest): void {
  if (isProtocolViolation(err)) {
    // ws has already closed with the code that says why (1002, 1007, 1008 or 1009).
    noteOnce(req, 'warn', { origin: req.headers.origin ?? '', code: err.code, reason: err.message }, 'WebSocket protocol violation: connection closed');
    return;
  }
  req.log.error({ err, origin: req.headers.origin ?? '' }, 'WebSocket connection failed');
  socket.terminate();
}

/**
 * One connection's commands: a chain that runs them in arrival order and
 * survives any failing step. Once the connection closes (or starts closing),
 * commands still queued never start and the running one is told to stop.
 */
function serveCommands(socket: WebSocket, req: FastifyRequest, context: Omit<CommandContext, 'signal'>): void {
  const origin = req.headers.origin ?? '';
  const gone = new AbortController();
  let unanswered = 0;
  let chain = Promise.resolve();

  const stop = (why: string) => {
    if (!gone.signal.aborted) gone.abort(new Error(why));
  };
  const shut = (code: number, reason: string) => {
    stop(`closed by the service: ${reason}`);
    socket.close(code, reason);
  };
  // A reply counts as unanswered until the network took it: a page that
  // never reads its replies is stopped as well.
  const answer = (reply: string | undefined) => {
    if (reply === undefined || socket.readyState !== socket.OPEN) unanswered--;
    else socket.send(reply, () => unanswered--);
  };

  const step = async (text: string) => {
    // A page that sent its close frame reads no more replies.
    if (socket.readyState !== socket.OPEN) stop('the page is closing the connection');
    if (gone.signal.aborted) return;
    let answered = false;
    try {
      const started = performance.now();
      const result = await runCommand(text, { ...context, signal: gone.signal });
      if (!gone.signal.aborted) {
        // Reply first: the log line is written synchronously and need not delay the page.
        answer(result.reply);
        answered = true;
        const ms = Math.round((performance.now() - started) * 10) / 10;
        const line = { command: result.command, origin, ms, code: result.code, ...(result.detail ? { detail: result.detail } : {}) };
        if (result.command === 'Exit') noteOnce(req, 'warn', line, 'Exit ignored: a web page may not stop the service');
        else req.log.info(line, 'command');
      }
      await result.done;
    } catch (err) {
      // runCommand answers every failure of a command itself: this is a fault of ours.
      if (!answered) answer(SERVICE_ERROR);
      try {
        req.log.error({ err, origin }, 'command step failed');
      } catch {
        // The log itself failed; the chain goes on.
      }
    }
  };

  socket.on('message', (data, isBinary) => {
    if (gone.signal.aborted) return;
    if (isBinary) {
      noteOnce(req, 'warn', { origin }, 'binary frame: connection closed (1003)');
      return shut(1003, 'text frames only');
    }
    if (++unanswered > MAX_UNANSWERED) {
      noteOnce(req, 'warn', { origin, count: unanswered }, `more than ${MAX_UNANSWERED} commands unanswered: connection closed (1008)`);
      return shut(1008, 'too many commands unanswered');
    }
    const text = data.toString();
    chain = chain.then(() => step(text));
  });
  socket.on('error', () => stop('WebSocket protocol violation'));
  socket.on('close', () => {
    if (!gone.signal.aborted && unanswered > 0) noteOnce(req, 'info', { origin, dropped: unanswered }, 'connection closed by the page: its commands dropped');
    stop('the page closed the connection');
  });
}
