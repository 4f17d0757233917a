/**
 * The steps of the SAM conversation, named as docs/protocol.md §6 names
 * them. A failure carries the step that was under way; pages get that
 * step's code from the protocol layer (src/protocol/error-codes.ts).
 */
export type SamStep =
  /** The TCP connection (§6). */
  | 'connect'
  /** Making the client's RSA key pair (§6.1 step 1). */
  | 'key pair'
  /** Sending the client hello (§6.1 step 1). */
  | 'client hello'
  /** Reading, decrypting and checking the server hello, nonce included (§6.1 steps 2 and 4). */
  | 'server hello'
  /** Encrypting to the SAM's public key (§6.1 step 3). */
  | 'server key'
  /** Sending the encrypted client nonce (§6.1 step 3). */
  | 'client nonce'
  /** The service check, either way (§6.2). */
  | 'service check'
  /** Sending the card id and random (§6.3 b). */
  | 'card id and random'
  /** Reading the challenge (§6.3 c). */
  | 'challenge'
  /** Sending the card's answer and the value (§6.3 e). */
  | 'card answer'
  /** Reading the signature (§6.3 f). */
  | 'signature'
  /** The page's value, checked before anything is sent (§2.6). */
  | 'value';

export class SamError extends Error {
  override readonly name = 'SamError';
  constructor(
    readonly step: SamStep,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
