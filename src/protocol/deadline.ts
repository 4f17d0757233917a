/**
 * A command's stop signal: aborted when its connection goes away or when its
 * deadline passes, whichever comes first. Combined by hand rather than with
 * AbortSignal.any, which on Node 20 keeps every combined signal reachable
 * from the connection's long-lived one (nodejs/node#55351).
 */
export function commandSignal(parent: AbortSignal | undefined, ms: number, late: () => unknown): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const fromParent = () => controller.abort(parent!.reason);
  if (parent?.aborted) fromParent();
  else parent?.addEventListener('abort', fromParent, { once: true });
  const timer = setTimeout(() => controller.abort(late()), ms);
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', fromParent);
    },
  };
}

/**
 * Settles like `work`, or rejects with the signal's reason `graceMs` after
 * the signal aborted, whichever comes first. The layers below stop at the
 * signal by themselves (the SAM at once, the card before its next APDU); the
 * grace only bounds a card stuck inside one APDU, which nothing can cut short.
 */
export function settleOrGiveUp<T>(work: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const givenUp = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(signal.reason), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, givenUp]).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort!);
  });
}
