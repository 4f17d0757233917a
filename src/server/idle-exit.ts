import type { Server } from 'node:net';

/**
 * Calls `onIdle` once no connection has been open for `ms`. One timer, set
 * when the last connection closes: an idle service wakes for nothing.
 */
export function whenIdle(server: Server, ms: number, onIdle: () => void): { stop(): void } {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(onIdle, ms);
  };
  const onConnection = (socket: NodeJS.EventEmitter) => {
    open++;
    clearTimeout(timer);
    socket.once('close', () => {
      if (--open === 0) arm();
    });
  };
  server.on('connection', onConnection);
  arm();
  return {
    stop() {
      clearTimeout(timer);
      server.off('connection', onConnection);
    },
  };
}
