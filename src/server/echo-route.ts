import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { type CommandContext, runCommand } from '../protocol/commands.js';
import type { OriginPolicy } from './origin-policy.js';

export interface EchoOptions {
  policy: OriginPolicy;
  context: Omit<CommandContext, 'clearance'>;
  maxConnections?: number;
  pingIntervalMs?: number;
}

export const MAX_FRAME_BYTES = 4096;

/**
 * `/echo`: the official text protocol, one reply per text frame. Replies on
 * one socket keep the order of the requests; the card layer serializes card
 * work across sockets.
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
          req.log.warn({ origin: origin ?? '(none)' }, 'origin refused');
          return reply.code(403).send('origin not allowed\n');
        }
        if (open >= maxConnections) {
          req.log.warn({ open }, 'too many connections');
          return reply.code(503).send('too many connections\n');
        }
      },
    },
    (socket: WebSocket, req) => {
      open++;
      const origin = req.headers.origin ?? '';
      const clearance = opts.policy.clearance(origin) === 'full' ? 'full' : 'version-only';
      let chain = Promise.resolve();
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
      socket.on('message', (data, isBinary) => {
        if (isBinary) return socket.close(1003, 'text frames only');
        const text = data.toString();
        chain = chain.then(async () => {
          const started = performance.now();
          const result = await runCommand(text, { ...opts.context, clearance });
          const ms = Math.round((performance.now() - started) * 10) / 10;
          // Reply first: the log line is written synchronously and need not delay the page.
          if (result.reply !== undefined && socket.readyState === socket.OPEN) socket.send(result.reply);
          const line = { command: result.command, origin, ms, code: result.code, ...(result.detail ? { detail: result.detail } : {}) };
          if (result.command === 'Exit') req.log.warn(line, 'Exit ignored: a web page may not stop the service');
          else req.log.info(line, 'command');
        });
      });
    },
  );
};
