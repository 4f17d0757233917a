/** One line on stderr and exit code 1: what a person sees instead of a stack trace. */
export class CliFailure extends Error {}

export function fail(message: string): never {
  throw new CliFailure(message);
}

/** Turns any error from an action into the CLI's one-line failure. */
export function failOnError<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      if (err instanceof CliFailure) throw err;
      fail(err instanceof Error ? err.message : String(err));
    }
  };
}
