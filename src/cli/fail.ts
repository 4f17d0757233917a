/** One line on stderr and exit code 1: what a person sees instead of a stack trace. */
export class CliFailure extends Error {}

export function fail(message: string): never {
  throw new CliFailure(message);
}
