/**
 * A fast path in front of `TextDecoder` + `JSON.parse` for what producers send almost always: one
 * flat JSON object of ASCII text, strings without escapes, numbers without exponents. It reads the
 * values of the named fields straight from the bytes, without building the object.
 *
 * It either agrees with `JSON.parse` or gives up: any input it does not fully understand (escapes,
 * non-ASCII bytes, nested values, exponents, more than 15 digits, anything malformed) makes `scan`
 * return false, and the caller parses that record the general way. So every verdict, valid or
 * quarantined, is still `JSON.parse`'s.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
/** Up to 15 decimal digits an integer is exact in a double, and so is the quotient by a power of ten (correctly rounded). */
const MAX_DIGITS = 15;
const POWERS_OF_TEN = Array.from({ length: MAX_DIGITS + 1 }, (_, k) => 10 ** k);
const LITERALS: readonly [string, unknown][] = [['true', true], ['false', false], ['null', null]];
const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/** A key `scan` reports; `repetitive` values (device ids, sites, statuses) are interned. */
export interface ScannedField {
  readonly name: string;
  readonly repetitive: boolean;
}

/** Interned strings per field, by a hash of their bytes; cleared when it outgrows this many. */
const MAX_INTERNED = 16_384;

export class FlatJsonScanner {
  private readonly names: readonly Uint8Array[];
  private readonly interned: (Map<number, string> | undefined)[];

  /** `fields`: the keys whose values `scan` reports, by position. */
  constructor(fields: readonly ScannedField[]) {
    this.names = fields.map((field) => new TextEncoder().encode(field.name));
    // A repeated value comes back as the same string: no allocation, and its hash is already computed for the dictionaries downstream.
    this.interned = fields.map((field) => (field.repetitive ? new Map() : undefined));
  }

  /**
   * Reads `bytes` as one JSON object and sets `values[i]` to the value of `names[i]`, or undefined
   * when the key is absent; a repeated key keeps its last value, as `JSON.parse` does. Returns false,
   * with `values` meaningless, when the input is not for the fast path.
   */
  scan(bytes: Uint8Array, values: unknown[]): boolean {
    const names = this.names;
    for (let i = 0; i < names.length; i++) values[i] = undefined;
    let at = skipSpace(bytes, 0);
    if (bytes[at] !== OPEN_BRACE) return false;
    at = skipSpace(bytes, at + 1);
    if (bytes[at] === CLOSE_BRACE) return skipSpace(bytes, at + 1) === bytes.length;
    let expected = 0;
    for (;;) {
      if (bytes[at] !== QUOTE) return false;
      const keyEnd = stringEnd(bytes, at + 1);
      if (keyEnd < 0) return false;
      const index = keyIndex(names, bytes, at + 1, keyEnd, expected);
      at = skipSpace(bytes, keyEnd + 1);
      if (bytes[at] !== COLON) return false;
      at = readValue(bytes, skipSpace(bytes, at + 1), index >= 0 ? this.interned[index] : undefined);
      if (at < 0) return false;
      if (index >= 0) {
        values[index] = scanned;
        expected = index + 1;
      }
      at = skipSpace(bytes, at);
      const separator = bytes[at];
      at = skipSpace(bytes, at + 1);
      if (separator === CLOSE_BRACE) return at === bytes.length;
      if (separator !== COMMA) return false;
    }
  }
}

/** The value `readValue` read last (decoding is synchronous, so one slot suffices). */
let scanned: unknown;

function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length) {
    const byte = bytes[at]!;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return at;
    at++;
  }
  return at;
}

/** Index of the closing quote of a plain ASCII string starting at `start`, or -1; leaves the string's hash in `stringHash`. */
function stringEnd(bytes: Uint8Array, start: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === QUOTE) {
      stringHash = hash;
      return i;
    }
    if (byte === BACKSLASH || byte < 0x20 || byte >= 0x80) return -1;
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return -1;
}

let stringHash = 0;

/** The string in bytes [start, end), from `interned` when seen before. */
function stringOf(bytes: Uint8Array, start: number, end: number, interned: Map<number, string> | undefined): string {
  if (interned === undefined) return latin1.call(bytes, start, end);
  const known = interned.get(stringHash);
  if (known !== undefined && sameText(known, bytes, start, end)) return known;
  if (interned.size >= MAX_INTERNED) interned.clear();
  const text = latin1.call(bytes, start, end);
  interned.set(stringHash, text);
  return text;
}

function sameText(text: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (text.length !== end - start) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/** The index in `names` of the key in bytes [start, end), trying `expected` first; -1 for another key. */
function keyIndex(names: readonly Uint8Array[], bytes: Uint8Array, start: number, end: number, expected: number): number {
  if (expected < names.length && matches(names[expected]!, bytes, start, end)) return expected;
  for (let i = 0; i < names.length; i++) if (matches(names[i]!, bytes, start, end)) return i;
  return -1;
}

function matches(name: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (name.length !== end - start) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== bytes[start + i]) return false;
  return true;
}

/** Reads the value at `at` into `scanned`; returns the position after it, or -1 to give up. */
function readValue(bytes: Uint8Array, at: number, interned: Map<number, string> | undefined): number {
  const first = bytes[at];
  if (first === QUOTE) {
    const end = stringEnd(bytes, at + 1);
    if (end < 0) return -1;
    scanned = stringOf(bytes, at + 1, end, interned);
    return end + 1;
  }
  if (first === MINUS || (first !== undefined && first >= ZERO && first <= NINE)) return readNumber(bytes, at);
  for (const [text, literal] of LITERALS) {
    if (follows(bytes, at, text)) {
      scanned = literal;
      return at + text.length;
    }
  }
  return -1;
}

function follows(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** A JSON number, `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, of at most 15 digits. */
function readNumber(bytes: Uint8Array, at: number): number {
  const negative = bytes[at] === MINUS;
  if (negative) at++;
  const integerStart = at;
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  let byte = bytes[at];
  while (byte !== undefined && byte >= ZERO && byte <= NINE) {
    mantissa = mantissa * 10 + (byte - ZERO);
    digits++;
    byte = bytes[++at];
  }
  if (digits === 0 || (digits > 1 && bytes[integerStart] === ZERO)) return -1;
  if (byte === DOT) {
    byte = bytes[++at];
    while (byte !== undefined && byte >= ZERO && byte <= NINE) {
      mantissa = mantissa * 10 + (byte - ZERO);
      digits++;
      fraction++;
      byte = bytes[++at];
    }
    if (fraction === 0) return -1;
  }
  if (digits > MAX_DIGITS || byte === 0x65 || byte === 0x45) return -1; // too many digits, or an exponent
  const magnitude = fraction === 0 ? mantissa : mantissa / POWERS_OF_TEN[fraction]!;
  scanned = negative ? -magnitude : magnitude;
  return at;
}
