import { hashBytes } from './flat-json.ts';
import { grown } from './typed-arrays.ts';

const utf8 = new TextEncoder();

/**
 * The distinct strings of a column, each with a stable id (its index in `values`), found by their
 * UTF-8 bytes without making a string: repetitive values (device ids, sites, statuses) are looked
 * up as records are read, so a row holds an int and a value is validated once, when first seen.
 */
export class StringDictionary {
  readonly values: string[] = [];
  // The UTF-8 bytes of the values back to back: value `id` is [ends[id - 1] or 0, ends[id]).
  private bytes = new Uint8Array(4_096);
  private ends = new Int32Array(64);
  private hashes = new Int32Array(64);
  // Open addressing with linear probing: id + 1 of the value in each slot, 0 for an empty slot.
  private slots = new Int32Array(128);

  /** The id of the string whose UTF-8 bytes are [start, end) of `bytes` (`hash` from `hashBytes`), or -1. */
  find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return -1;
      const id = entry - 1;
      if (this.hashes[id] === hash && this.holds(id, bytes, start, end)) return id;
    }
  }

  /** Adds `text`, whose UTF-8 bytes are [start, end) of `bytes` and not yet in the dictionary; returns its id. */
  add(text: string, bytes: Uint8Array, start: number, end: number, hash: number): number {
    const id = this.values.length;
    const from = id === 0 ? 0 : this.ends[id - 1]!;
    const to = from + end - start;
    if (to > this.bytes.length) this.bytes = grown(this.bytes, to);
    if (id === this.ends.length) {
      this.ends = grown(this.ends, id + 1);
      this.hashes = grown(this.hashes, id + 1);
    }
    this.bytes.set(bytes.subarray(start, end), from);
    this.ends[id] = to;
    this.hashes[id] = hash;
    this.values.push(text);
    if (2 * this.values.length > this.slots.length) this.rehash();
    else this.place(id);
    return id;
  }

  /**
   * The id of `text`, added if new (the general path, for strings the byte path did not read).
   * Strings are told apart by their UTF-8 bytes, the form they take in the files: a lone surrogate
   * is stored as the U+FFFD it is written as.
   */
  idOf(text: string): number {
    const bytes = utf8.encode(text);
    const hash = hashBytes(bytes, 0, bytes.length);
    const id = this.find(bytes, 0, bytes.length, hash);
    return id >= 0 ? id : this.add(text.toWellFormed(), bytes, 0, bytes.length, hash);
  }

  private holds(id: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = id === 0 ? 0 : this.ends[id - 1]!;
    if (this.ends[id]! - from !== end - start) return false;
    for (let i = 0; i < end - start; i++) if (this.bytes[from + i] !== bytes[start + i]) return false;
    return true;
  }

  private place(id: number): void {
    const mask = this.slots.length - 1;
    let slot = this.hashes[id]! & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = id + 1;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let id = 0; id < this.values.length; id++) this.place(id);
  }
}
