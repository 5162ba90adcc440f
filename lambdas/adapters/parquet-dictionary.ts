import type { Encoding } from 'hyparquet';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { grown } from '../core/typed-arrays.ts';
import { page, type FlatValues } from './parquet-page.ts';
import type { Physical } from './parquet-schema.ts';

/**
 * Dictionary encoding for the flat encoder: a column chunk's distinct values, numbered in order of
 * first use, when they at most halve the chunk, for strings and repetitive numbers alike.
 */

/** The largest dictionary kept, in plain-encoded bytes (parquet-mr's default dictionary page size). */
const MAX_DICTIONARY_BYTES = 1_048_576;

/** Rows after which a numeric column whose values were nearly all distinct is written plain without looking further. */
const SAMPLE_ROWS = 1_024;

/** A column's rows in [start, end) as dictionary ids (-1 for null) over its distinct values, if a dictionary pays. */
export interface Dictionary {
  readonly entries: (string | number)[];
  readonly ids: Int32Array;
}

/** The dictionary of a string chunk, built from the ids it already has into its column's distinct strings. */
export function stringDictionary(values: Extract<FlatValues, { kind: 'strings' }>, start: number, end: number): Dictionary | undefined {
  // Renumber the distinct values in order of first use, so a row group's dictionary holds only its own.
  const local = new Int32Array(values.distinct.length).fill(-1);
  const entries: string[] = [];
  const ids = new Int32Array(end - start);
  let bytes = 0;
  for (let row = start; row < end; row++) {
    const index = values.indices[row]!;
    if (index < 0) {
      ids[row - start] = -1;
      continue;
    }
    let id = local[index]!;
    if (id < 0) {
      id = local[index] = entries.length;
      const entry = values.distinct[index]!;
      entries.push(entry);
      bytes += 4 + Buffer.byteLength(entry);
    }
    ids[row - start] = id;
  }
  return pays(entries.length, bytes, end - start) ? { entries, ids } : undefined;
}

/** The dictionary of a numeric chunk, given up as soon as the values prove too distinct to pay. */
export function numberDictionary(values: Float64Array, start: number, end: number, physical: Physical): Dictionary | undefined {
  // Booleans pack into one bit a value: no dictionary beats that.
  if (physical.type === 'BOOLEAN') return undefined;
  const rows = end - start;
  const width = physical.type === 'INT32' ? 4 : 8;
  const limit = Math.min(rows / 2, MAX_DICTIONARY_BYTES / width);
  const distinct = new DistinctNumbers();
  const ids = new Int32Array(rows);
  for (let row = start; row < end; row++) {
    const value = values[row]!;
    if (Number.isNaN(value)) {
      ids[row - start] = -1;
      continue;
    }
    const known = distinct.size;
    ids[row - start] = distinct.idOf(value);
    // Too many distinct values, or nearly all unique in the first rows: not a dictionary, and cheaper to find out early.
    if (distinct.size > known && (known >= limit || (row - start >= SAMPLE_ROWS && known > (row - start) * 0.95))) return undefined;
  }
  return pays(distinct.size, distinct.size * width, rows) ? { entries: distinct.entries, ids } : undefined;
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/** Distinct doubles by their bits (so 0 and -0 stay apart), numbered in order of first sight. */
class DistinctNumbers {
  readonly entries: number[] = [];
  private keys = new Float64Array(512);
  private slots = new Int32Array(1024); // id + 1, 0 for an empty slot

  get size(): number {
    return this.entries.length;
  }

  idOf(value: number): number {
    const mask = this.slots.length - 1;
    bits[0] = value;
    const low = words[0]!;
    const high = words[1]!;
    for (let slot = hashWords(low, high) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return this.add(value, slot);
      bits[0] = this.keys[entry - 1]!;
      if (words[0] === low && words[1] === high) return entry - 1;
    }
  }

  private add(value: number, slot: number): number {
    const id = this.entries.length;
    this.entries.push(value);
    if (id === this.keys.length) this.keys = grown(this.keys, id + 1);
    this.keys[id] = value;
    this.slots[slot] = id + 1;
    if (2 * this.entries.length > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let id = 0; id < this.entries.length; id++) {
      bits[0] = this.keys[id]!;
      let slot = hashWords(words[0]!, words[1]!) & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = id + 1;
    }
  }
}

function hashWords(low: number, high: number): number {
  const mixed = Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
  return mixed ^ (mixed >>> 15);
}

// A dictionary pays when it holds at most half as many values as the rows and fits one dictionary page.
function pays(entries: number, bytes: number, rows: number): boolean {
  return entries <= rows / 2 && bytes <= MAX_DICTIONARY_BYTES;
}

/** The non-null ids of dictionary rows [from, to) (relative to the chunk), bit-packed at the dictionary's width. */
export function writeDictionaryIds(dictionary: Dictionary, from: number, to: number): Encoding {
  const present = new Int32Array(to - from);
  let count = 0;
  for (let i = from; i < to; i++) {
    const id = dictionary.ids[i]!;
    if (id >= 0) present[count++] = id;
  }
  const bitWidth = Math.max(1, Math.ceil(Math.log2(dictionary.entries.length)));
  page.appendUint8(bitWidth);
  writeRleBitPackedHybrid(page, present.subarray(0, count), bitWidth);
  return 'PLAIN_DICTIONARY';
}
