/**
 * What the card got wrong. The card layer knows its steps, not the NHIICC
 * codes pages get for them: those are given at the protocol boundary
 * (src/protocol/error-codes.ts).
 */

/** The card's steps, named as docs/protocol.md §3.1 names them. */
export type CardStep = 'READ basic profile' | 'READ card data' | 'READ card id' | 'GET card random' | 'MUTUAL AUTH';

/**
 * A step the card refused (a status word other than 90 00) or answered with
 * data that cannot be right. The message names the field, never its value:
 * values are personal data.
 */
export class CardError extends Error {
  override readonly name = 'CardError';
  constructor(
    readonly step: CardStep,
    message: string,
    /** The status word, when the card refused the step. */
    readonly sw?: number,
  ) {
    super(message);
  }
}
