import iconv from 'iconv-lite';

/**
 * Names on the card are Big5 with HKSCS extensions. Node's TextDecoder('big5')
 * maps HKSCS characters to private-use code points, so iconv-lite's big5hkscs
 * table is used in both directions.
 */
export function decodeBig5(bytes: Buffer): string {
  return iconv.decode(bytes, 'big5hkscs');
}

export function encodeBig5(text: string): Buffer {
  return iconv.encode(text, 'big5hkscs');
}

/** A decoded name must not hold replacement or private-use characters. */
export function hasUndecodable(text: string): boolean {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0xfffd) return true;
    if (cp >= 0xe000 && cp <= 0xf8ff) return true;
    if (cp >= 0xf0000) return true;
  }
  return false;
}
