/**
 * A fast path in front of `TextDecoder` + `JSON.parse` for what producers send almost always: one
 * flat JSON object of ASCII text, strings without escapes, numbers without exponents. It reads the
 * named fields straight from the bytes into typed slots (numbers as doubles, strings as byte spans
 * with a hash), without building the object or a string.
 *
 * It either agrees with `JSON.parse` or gives up: any input it does not fully understand (escapes,
 * non-ASCII bytes, nested values, exponents, more than 15 digits, anything malformed), and any named
 * field whose value is not of the kind asked for (or null), makes `scan` return false, and the caller
 * parses that record the general way. So every verdict, valid or quarantined, is still `JSON.parse`'s.
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
const LITERAL_NULL = [0x6e, 0x75, 0x6c, 0x6c];
const LITERAL_TRUE = [0x74, 0x72, 0x75, 0x65];
const LITERAL_FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
/** Up to 15 decimal digits an integer is exact in a double, and so is the quotient by a power of ten (correctly rounded). */
const MAX_DIGITS = 15;
const POWERS_OF_TEN = Float64Array.from({ length: MAX_DIGITS + 1 }, (_, k) => 10 ** k);

// FNV-1a, as signed 32-bit integers (the form an Int32Array keeps).
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

// The kind of value a field takes on the fast path.
const NUMBER = 0;
const STRING = 1;
const BOOLEAN = 2;
const KINDS = { number: NUMBER, string: STRING, boolean: BOOLEAN } as const;

/** What a field held after a scan. */
export const ABSENT = 0;
export const PRESENT = 1;
export const NULL = 2;

/** A key `scan` reports, and the kind of value it takes on the fast path. */
export interface ScannedField {
  readonly name: string;
  readonly kind: 'string' | 'number' | 'boolean';
  /** Report a hash of the string's bytes too (for dictionary lookups). */
  readonly hashed?: boolean;
}

/**
 * The named fields of the last scanned object, by position: `state` (ABSENT, PRESENT or NULL), and
 * for a present value either its number (1 or 0 for a boolean) or, for a string, its bytes [`starts`, `ends`) and, if the
 * field is `hashed`, their `hashBytes` in `hashes`.
 */
export class ScannedValues {
  readonly state: Uint8Array;
  readonly numbers: Float64Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly hashes: Int32Array;

  constructor(fields: number) {
    // One slot more, where values of keys not asked for land: its state says whether there were any.
    this.state = new Uint8Array(fields + 1);
    this.numbers = new Float64Array(fields + 1);
    this.starts = new Int32Array(fields + 1);
    this.ends = new Int32Array(fields + 1);
    this.hashes = new Int32Array(fields + 1);
  }
}

/** FNV-1a over bytes [start, end): the hash `scan` reports for a string value. */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  return hash;
}

export class FlatJsonScanner {
  private readonly names: readonly Uint8Array[];
  private readonly kinds: Uint8Array;
  private readonly hashed: Uint8Array;
  readonly values: ScannedValues;

  /** `fields`: the keys whose values `scan` reports, by position. */
  constructor(fields: readonly ScannedField[]) {
    this.names = fields.map((field) => new TextEncoder().encode(field.name));
    this.kinds = Uint8Array.from(fields, (field) => KINDS[field.kind]);
    this.hashed = Uint8Array.from(fields, (field) => (field.hashed ? 1 : 0));
    this.values = new ScannedValues(fields.length);
  }

  /**
   * Reads `bytes` as one JSON object into `values`; a repeated key keeps its last value, as
   * `JSON.parse` does. Returns false, with `values` meaningless, when the input is not for the fast path.
   */
  scan(bytes: Uint8Array): boolean {
    const { names, kinds, hashed, values } = this;
    const other = names.length;
    values.state.fill(ABSENT);
    let at = skipSpace(bytes, 0);
    if (bytes[at] !== OPEN_BRACE) return false;
    at = skipSpace(bytes, at + 1);
    if (bytes[at] === CLOSE_BRACE) return skipSpace(bytes, at + 1) === bytes.length;
    let expected = 0;
    for (;;) {
      if (bytes[at] !== QUOTE) return false;
      let index = expected < other && keyAt(names[expected]!, bytes, at + 1) ? expected : -1;
      let keyEnd: number;
      if (index >= 0) {
        keyEnd = at + 1 + names[index]!.length;
      } else {
        keyEnd = stringEnd(bytes, at + 1);
        if (keyEnd < 0) return false;
        index = keyIndex(names, bytes, at + 1, keyEnd);
        if (index < 0) index = other;
      }
      at = skipSpace(bytes, keyEnd + 1);
      if (bytes[at] !== COLON) return false;
      at = skipSpace(bytes, at + 1);
      const first = bytes[at];
      let state = PRESENT;
      if (first === QUOTE) {
        if (index < other && kinds[index] !== STRING) return false;
        const end = index < other && hashed[index] === 1 ? hashedStringEnd(bytes, at + 1, values.hashes, index) : stringEnd(bytes, at + 1);
        if (end < 0) return false;
        values.starts[index] = at + 1;
        values.ends[index] = end;
        at = end + 1;
      } else if (first === MINUS || (first !== undefined && first >= ZERO && first <= NINE)) {
        if (index < other && kinds[index] !== NUMBER) return false;
        at = readNumber(bytes, at, values.numbers, index);
        if (at < 0) return false;
      } else if (follows(bytes, at, LITERAL_NULL)) {
        state = NULL;
        at += LITERAL_NULL.length;
      } else if ((index === other || kinds[index] === BOOLEAN) && follows(bytes, at, LITERAL_TRUE)) {
        values.numbers[index] = 1;
        at += LITERAL_TRUE.length;
      } else if ((index === other || kinds[index] === BOOLEAN) && follows(bytes, at, LITERAL_FALSE)) {
        values.numbers[index] = 0;
        at += LITERAL_FALSE.length;
      } else {
        return false;
      }
      values.state[index] = state;
      if (index < other) expected = index + 1;
      at = skipSpace(bytes, at);
      const separator = bytes[at];
      at = skipSpace(bytes, at + 1);
      if (separator === CLOSE_BRACE) return at === bytes.length;
      if (separator !== COMMA) return false;
    }
  }
}

function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length) {
    const byte = bytes[at]!;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return at;
    at++;
  }
  return at;
}

/** Whether the key starting at `start` (after its opening quote) is exactly `name`. */
function keyAt(name: Uint8Array, bytes: Uint8Array, start: number): boolean {
  if (bytes[start + name.length] !== QUOTE) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== bytes[start + i]) return false;
  return true;
}

/** Index of the closing quote of a plain ASCII string starting at `start`, or -1 for anything else (escapes, control or non-ASCII bytes, no end). */
function stringEnd(bytes: Uint8Array, start: number): number {
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === QUOTE) return i;
    if (byte === BACKSLASH || byte < 0x20 || byte >= 0x80) return -1;
  }
  return -1;
}

/** `stringEnd`, also leaving the string's `hashBytes` in `hashes[slot]`. */
function hashedStringEnd(bytes: Uint8Array, start: number, hashes: Int32Array, slot: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === QUOTE) {
      hashes[slot] = hash;
      return i;
    }
    if (byte === BACKSLASH || byte < 0x20 || byte >= 0x80) return -1;
    hash = Math.imul(hash ^ byte, FNV_PRIME);
  }
  return -1;
}

/** The index in `names` of the key in bytes [start, end), or -1 for another key. */
function keyIndex(names: readonly Uint8Array[], bytes: Uint8Array, start: number, end: number): number {
  for (let i = 0; i < names.length; i++) if (names[i]!.length === end - start && keyAt(names[i]!, bytes, start)) return i;
  return -1;
}

function follows(bytes: Uint8Array, at: number, literal: readonly number[]): boolean {
  for (let i = 0; i < literal.length; i++) if (bytes[at + i] !== literal[i]) return false;
  return true;
}

/** Reads a JSON number, `-?(0|[1-9][0-9]*)(\.[0-9]+)?` of at most 15 digits, into `numbers[slot]`; returns the position after it, or -1. */
function readNumber(bytes: Uint8Array, at: number, numbers: Float64Array, slot: number): number {
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
  numbers[slot] = negative ? -magnitude : magnitude;
  return at;
}
