import { createRequire } from 'node:module';
import type { ContextListener, OpenContext, PcscContext, ReaderPort } from './port.js';
import { PcscUnavailableError, scardCodeOf, SCARD_E_NO_SERVICE } from './port.js';
import { loadCardAddon, transactionalPort } from './transactional-port.js';

type Pcsclite = typeof import('pcsclite');
type PcscliteContext = ReturnType<Pcsclite>;
type PcscliteReader = Parameters<Parameters<PcscliteContext['on']>[1]>[0] & {
  connect(options: { share_mode: number; protocol?: number }, cb: (err: unknown, protocol: number) => void): void;
};

let loaded: Pcsclite | Error | undefined;

/** The addon is loaded lazily so a machine without it still starts (7001). */
function loadAddon(): Pcsclite {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('pcsclite') as Pcsclite;
    } catch (err) {
      loaded = err as Error;
    }
  }
  if (loaded instanceof Error) {
    throw new PcscUnavailableError(
      'the pcsclite native addon could not be loaded (' +
        loaded.message.split('\n')[0] +
        '): install libpcsclite1 (and libpcsclite-dev to build it), then run `npm rebuild pcsclite`',
    );
  }
  return loaded;
}

const RESPONSE_BUFFER = 4096;

/** Card I/O over pcsclite alone: no transactions (the binding has none). */
function pcsclitePort(reader: PcscliteReader): ReaderPort {
  let protocol = 0;
  return {
    name: reader.name,
    connect: () =>
      new Promise((resolve, reject) => {
        reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err, p) => {
          if (err) return reject(err instanceof Error ? err : new Error(String(err)));
          if (p !== undefined) protocol = p;
          resolve();
        });
      }),
    transmit: (apdu) =>
      new Promise((resolve, reject) => {
        reader.transmit(apdu, RESPONSE_BUFFER, protocol, (err, data) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(data),
        );
      }),
    disconnect: () =>
      new Promise((resolve) => {
        reader.disconnect(reader.SCARD_LEAVE_CARD, () => resolve());
      }),
    beginTransaction: async () => [],
    endTransaction: async () => undefined,
  };
}

export const openPcscliteContext: OpenContext = (listener: ContextListener): PcscContext => {
  const pcsclite = loadAddon();
  let ctx: PcscliteContext;
  try {
    ctx = pcsclite();
  } catch (err) {
    const code = scardCodeOf(err);
    throw new PcscUnavailableError(
      code === SCARD_E_NO_SERVICE
        ? 'the PC/SC service is not running: install and start pcscd (Debian/Ubuntu: apt install pcscd)'
        : `PC/SC is not usable: ${(err as Error).message}`,
      code,
    );
  }
  const readers = new Set<PcscliteReader>();
  let closed = false;

  // pcsclite announces added readers one by one and says nothing when a list
  // is complete; wrapping start() (called on the next tick) tells us when.
  const raw = ctx as unknown as { start: (cb: (err: unknown, data: Buffer) => void) => void; readers: object };
  const start = raw.start.bind(ctx);
  raw.start = (cb) =>
    start((err, data) => {
      cb(err, data);
      if (!err && !closed) listener.onReaderList(Object.keys(raw.readers));
    });

  ctx.on('reader', (reader: PcscliteReader) => {
    readers.add(reader);
    reader.on('error', () => {
      /* the context's own error reports the lost service */
    });
    reader.on('status', (status: { state: number; atr?: Buffer }) => {
      if (closed) return;
      const present = (status.state & reader.SCARD_STATE_PRESENT) !== 0 && (status.state & reader.SCARD_STATE_MUTE) === 0;
      listener.onCardState(reader.name, present, present ? status.atr : undefined);
    });
    reader.on('end', () => {
      readers.delete(reader);
      if (!closed) listener.onReaderRemoved(reader.name);
    });
    const addon = loadCardAddon();
    listener.onReaderAdded(addon ? transactionalPort(addon, reader.name) : pcsclitePort(reader));
  });
  ctx.on('error', (err: Error) => {
    if (!closed) listener.onContextError(err);
  });

  return {
    close() {
      if (closed) return;
      closed = true;
      for (const r of readers) {
        try {
          r.close();
        } catch {
          /* already gone with the service */
        }
      }
      try {
        ctx.close();
      } catch {
        /* already gone with the service */
      }
    },
  };
};
