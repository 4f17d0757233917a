import { PcscUnavailableError, SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED, SCARD_W_SECURITY_VIOLATION, scardCodeOf } from './errors.js';
import { ReaderMonitor } from './monitor.js';
import type { ContextListener, OpenContext, PcscContext } from './port.js';
import { transactionalPort } from './transactional-port.js';
import { loadWinscard, type ScardContext, type Winscard } from './winscard.js';

/** Why the service cannot be used, with what to do about it. */
function unavailable(w: Winscard, err: unknown): PcscUnavailableError {
  const code = scardCodeOf(err);
  const { abi } = w;
  if (code === SCARD_E_NO_SERVICE || code === SCARD_E_SERVICE_STOPPED) {
    return new PcscUnavailableError(`the PC/SC service is not running: ${abi.serviceHint}`, code, { cause: err });
  }
  if (code === SCARD_W_SECURITY_VIOLATION) {
    return new PcscUnavailableError(`the PC/SC service refused this user (access denied): ${abi.accessHint}`, code, { cause: err });
  }
  return new PcscUnavailableError(`PC/SC is not usable: ${(err as Error)?.message ?? String(err)}`, code, { cause: err });
}

/**
 * The machine's PC/SC service through its own library (winscard.ts). Two
 * contexts: the monitor's, which spends its life in SCardGetStatusChange,
 * and one for card connections, so that card work never waits for it (a
 * pcsc-lite context serves one call at a time).
 */
export function pcscOpener(load: () => Winscard = loadWinscard): OpenContext {
  return async (listener: ContextListener): Promise<PcscContext> => {
    const w = load();
    const contexts: ScardContext[] = [];
    // Released whatever becomes of the service: an error only means it is gone.
    const releaseAll = () => Promise.all(contexts.splice(0).map((ctx) => w.releaseContext(ctx).catch(() => undefined))).then(() => undefined);
    try {
      contexts.push(await w.establishContext(), await w.establishContext());
    } catch (err) {
      await releaseAll();
      throw unavailable(w, err);
    }
    const [monitorContext, cardContext] = contexts as [ScardContext, ScardContext];
    const monitor = new ReaderMonitor(w, monitorContext, listener, (reader) => transactionalPort(w, cardContext, reader));
    monitor.start();
    let closed: Promise<void> | undefined;
    return {
      close: () =>
        (closed ??= monitor.stop().then(releaseAll)),
    };
  };
}

export const openPcscContext: OpenContext = pcscOpener();
