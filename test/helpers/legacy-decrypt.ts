import crypto from 'node:crypto';
import iconv from 'iconv-lite';

/**
 * The test side of docs/protocol.md §5, written again from the spec (not imported
 * from src/) so that a mistake shared by both would need to be made twice.
 */
const bKey = Buffer.from('12345678123456780'.repeat(10), 'latin1');
const kBox = Buffer.from('5628342E78050F5A36444219269526 4D031015580340 5A721E0B49694B152906'.replace(/\s/g, ''), 'hex');
const kBox1 = Buffer.concat([kBox.subarray(0, 16), Buffer.from('2D414D1F4162152F', 'hex')]);
const lKey1 = Buffer.from([...kBox1].map((i) => bKey[i]!));

function decrypt(key: Buffer, data: Buffer, padding: boolean): Buffer {
  const d = crypto.createDecipheriv('des-ede3-ecb', key, null);
  d.setAutoPadding(padding);
  return Buffer.concat([d.update(data), d.final()]);
}

function strip7(blocks: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < blocks.length; i += 8) out.push(blocks.subarray(i, i + 7));
  return Buffer.concat(out);
}

/** Taiwan's calendar date via the time-zone database (the service uses a fixed offset). */
export function taipeiParts(at: Date): { y: string; m: string; d: string } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Taipei', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return { y: get('year'), m: get('month'), d: get('day') };
}

export function decryptEnCrypt(hex: string, cardNo: string, at: Date): string {
  const inner = strip7(decrypt(lKey1, Buffer.from(hex, 'hex'), false));
  // The zero fill of pad7 makes the inner ciphertext longer than a block multiple only by zeros.
  const usable = inner.subarray(0, inner.length - (inner.length % 8));
  const { y, m, d } = taipeiParts(at);
  const key = Buffer.concat([crypto.createHash('sha1').update(`${cardNo}${y}${m}${d}`).digest(), Buffer.from('27065866', 'hex')]);
  return decrypt(key, usable, true).toString('utf8');
}

export function decryptSecureBasic(hex: string, at: Date): string {
  const { y, m, d } = taipeiParts(at);
  const k = Buffer.from(`${m}${d}${y}`, 'latin1');
  const plain = strip7(decrypt(Buffer.concat([k, k, k]), Buffer.from(hex, 'hex'), false));
  return iconv.decode(plain, 'big5hkscs').replace(/\0+$/, '');
}
