import { page } from './parquet-page.ts';

/** DELTA_BINARY_PACKED encoding of 64-bit integers for the flat encoder, from exact integers held in doubles. */

const BLOCK_VALUES = 128;
const MINIBLOCKS = 4;
const MINIBLOCK_VALUES = BLOCK_VALUES / MINIBLOCKS;
/** Values and deltas up to 2^52 in magnitude keep every step below exact in doubles. */
const DELTA_LIMIT = 2 ** 52;
const WORD = 4_294_967_296;
const deltas = new Float64Array(BLOCK_VALUES);
const widths = new Uint8Array(MINIBLOCKS);

/**
 * DELTA_BINARY_PACKED (blocks of 128 values in 4 miniblocks), for 64-bit integers: steady
 * sequences (offsets, timestamps in arrival order) shrink to a few bits a value, and a block
 * whose deltas spread past 32 bits (microsecond timestamps out of order by more than 72 minutes)
 * still packs tighter than plain's 64. Returns false, leaving a partial page, when a value or a
 * delta is beyond what doubles represent exactly; the caller writes the page plain instead.
 */
export function writeDeltaBinaryPacked(values: Float64Array): boolean {
  const count = values.length;
  if (count === 0 || Math.abs(values[0]!) > DELTA_LIMIT) return false;
  page.appendVarInt(BLOCK_VALUES);
  page.appendVarInt(MINIBLOCKS);
  page.appendVarInt(count);
  appendZigZag(values[0]!);
  for (let first = 1; first < count; first += BLOCK_VALUES) {
    const size = Math.min(BLOCK_VALUES, count - first);
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < size; i++) {
      const value = values[first + i]!;
      const delta = value - values[first + i - 1]!;
      if (Math.abs(value) > DELTA_LIMIT || Math.abs(delta) > DELTA_LIMIT) return false;
      deltas[i] = delta;
      if (delta < min) min = delta;
    }
    appendZigZag(min);
    widths.fill(0);
    for (let m = 0; m * MINIBLOCK_VALUES < size; m++) {
      let max = 0;
      for (let i = m * MINIBLOCK_VALUES; i < Math.min(size, (m + 1) * MINIBLOCK_VALUES); i++) max = Math.max(max, deltas[i]! - min);
      widths[m] = bitWidth(max);
    }
    for (const width of widths) page.appendUint8(width);
    for (let m = 0; m * MINIBLOCK_VALUES < size; m++) packMiniblock(m * MINIBLOCK_VALUES, size, min, widths[m]!);
  }
  return true;
}

/**
 * Bit-packs the 32 adjusted deltas from `from` (zero past `size`) at `width` bits each, least
 * significant bit first; a value wider than 32 bits as its low word, then its high word's bits.
 */
function packMiniblock(from: number, size: number, min: number, width: number): void {
  const wide = width > 32;
  const partWidth = wide ? width - 32 : width;
  let word = 0;
  let used = 0;
  for (let i = from; i < from + MINIBLOCK_VALUES; i++) {
    const value = i < size ? deltas[i]! - min : 0;
    let part = value >>> 0;
    if (wide) {
      // A whole low word completes the pending word and leaves its own top `used` bits pending.
      page.appendUint32((word | (part << used)) >>> 0);
      word = used > 0 ? part >>> (32 - used) : 0;
      part = Math.floor(value / WORD);
    }
    word = (word | (part << used)) >>> 0;
    used += partWidth;
    if (used >= 32) {
      page.appendUint32(word);
      used -= 32;
      word = used > 0 ? part >>> (partWidth - used) : 0;
    }
  }
}

/** The bits needed for a non-negative integer up to 2^53. */
function bitWidth(value: number): number {
  return value < WORD ? 32 - Math.clz32(value) : 64 - Math.clz32(Math.floor(value / WORD));
}

/** A zigzag varint of an integer up to 2^52 in magnitude. */
function appendZigZag(value: number): void {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zigzag >= 128) {
    page.appendUint8((zigzag % 128) | 0x80);
    zigzag = Math.floor(zigzag / 128);
  }
  page.appendUint8(zigzag);
}
