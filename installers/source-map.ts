// Trims a source map to the sources whose stack frames matter (ours, src/).
// Node decodes a whole map the first time it formats a stack with source maps
// on: for the bundle's 2 MB of mostly node_modules mappings that took about
// 45 MB of memory, for ever. Frames in library code then keep the bundle's
// own positions, which is all a library frame needs.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export interface RawSourceMap {
  version: number;
  sources: string[];
  sourcesContent?: (string | null)[];
  names: string[];
  mappings: string;
  [key: string]: unknown;
}

function decodeSegment(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of text) {
    const digit = B64_INDEX.get(c);
    if (digit === undefined) throw new Error(`not a base64 VLQ digit: ${c}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

function encodeValue(n: number): string {
  let v = n < 0 ? (-n << 1) | 1 : n << 1;
  let out = '';
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v > 0) digit |= 32;
    out += B64[digit];
  } while (v > 0);
  return out;
}

/** A copy of map with only the segments that point into a source keep() accepts; sources and names renumbered. */
export function keepSources(map: RawSourceMap, keep: (source: string) => boolean): RawSourceMap {
  const sourceIndex = new Map<number, number>();
  const sources: string[] = [];
  const sourcesContent: (string | null)[] = [];
  map.sources.forEach((s, i) => {
    if (!keep(s)) return;
    sourceIndex.set(i, sources.length);
    sources.push(s);
    sourcesContent.push(map.sourcesContent?.[i] ?? null);
  });
  const nameIndex = new Map<number, number>();
  const names: string[] = [];

  // Absolute values as the input accumulates them, and the output's own running values.
  let src = 0;
  let line = 0;
  let col = 0;
  let name = 0;
  let outSrc = 0;
  let outLine = 0;
  let outCol = 0;
  let outName = 0;
  // Whether the last segment written maps somewhere: a position is looked up
  // as the last segment at or before it, so where dropped code starts, a
  // segment with no source says "unmapped" instead of leaving our code's.
  let mapped = false;
  const lines = map.mappings.split(';').map((groupText) => {
    let genCol = 0;
    let outGenCol = 0;
    const kept: string[] = [];
    for (const segText of groupText.split(',')) {
      if (!segText) continue;
      const seg = decodeSegment(segText);
      genCol += seg[0]!;
      let newSrc: number | undefined;
      if (seg.length >= 4) {
        src += seg[1]!;
        line += seg[2]!;
        col += seg[3]!;
        if (seg.length >= 5) name += seg[4]!;
        newSrc = sourceIndex.get(src);
      }
      if (newSrc === undefined) {
        if (mapped) {
          kept.push(encodeValue(genCol - outGenCol));
          outGenCol = genCol;
          mapped = false;
        }
        continue;
      }
      mapped = true;
      let text = encodeValue(genCol - outGenCol) + encodeValue(newSrc - outSrc) + encodeValue(line - outLine) + encodeValue(col - outCol);
      outGenCol = genCol;
      outSrc = newSrc;
      outLine = line;
      outCol = col;
      if (seg.length >= 5) {
        let newName = nameIndex.get(name);
        if (newName === undefined) {
          newName = names.length;
          nameIndex.set(name, newName);
          names.push(map.names[name]!);
        }
        text += encodeValue(newName - outName);
        outName = newName;
      }
      kept.push(text);
    }
    return kept.join(',');
  });
  return {
    ...map,
    sources,
    ...(map.sourcesContent ? { sourcesContent } : {}),
    names,
    mappings: lines.join(';'),
  };
}
