import type { StatisticValue } from '../ports/parquet.ts';

/**
 * A data file's lower and upper bound of a column, as an Iceberg manifest stores them: the
 * spec's single-value serialization (Appendix D) of the column's type, strings cut as Iceberg's
 * default metrics mode `truncate(16)` does (Apache Iceberg's `UnicodeUtil.truncateStringMin/Max`).
 */

/** Iceberg's default metrics mode keeps the first 16 code points of a string bound. */
export const STRING_BOUND_CODE_POINTS = 16;

/** A lower bound of values of Iceberg `type` whose smallest is `min`; undefined for a type it has no serialization for here. */
export function lowerBound(type: string, min: StatisticValue): Uint8Array | undefined {
  if (type !== 'string') return singleValue(type, min);
  return utf8(codePointsOf(min as string).slice(0, STRING_BOUND_CODE_POINTS).join(''));
}

/**
 * An upper bound of values of Iceberg `type` whose largest is `max`; undefined when there is none
 * to give: a string longer than the bound whose every kept code point is U+10FFFF.
 */
export function upperBound(type: string, max: StatisticValue): Uint8Array | undefined {
  if (type !== 'string') return singleValue(type, max);
  const codePoints = codePointsOf(max as string);
  if (codePoints.length <= STRING_BOUND_CODE_POINTS) return utf8(codePoints.join(''));
  // The kept prefix with its last code point that can grow grown by one: greater than any string it starts.
  for (let last = STRING_BOUND_CODE_POINTS - 1; last >= 0; last--) {
    const next = nextCodePoint(codePoints[last]!.codePointAt(0)!);
    if (next !== undefined) return utf8(codePoints.slice(0, last).join('') + String.fromCodePoint(next));
  }
  return undefined;
}

/**
 * The code points of `text` as the file holds it: the Parquet writer stores UTF-8, where a lone
 * surrogate becomes U+FFFD, so the bound is cut from that same text.
 */
function codePointsOf(text: string): string[] {
  return [...text.toWellFormed()];
}

// Surrogates are no characters: the one after U+D7FF is U+E000.
function nextCodePoint(codePoint: number): number | undefined {
  if (codePoint === 0xd7ff) return 0xe000;
  return codePoint < 0x10ffff ? codePoint + 1 : undefined;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * Iceberg's single-value serialization of `value` as a `type`: int and date 4 bytes and long and
 * timestamptz (microseconds) 8 bytes, little-endian two's complement; double IEEE 754
 * little-endian; boolean one byte; decimal its unscaled value in the fewest big-endian two's
 * complement bytes. Undefined for other types (streamlake writes none).
 */
function singleValue(type: string, value: StatisticValue): Uint8Array | undefined {
  const view = (bytes: number) => new DataView(new ArrayBuffer(bytes));
  switch (type) {
    case 'boolean':
      return Uint8Array.of(value === true || value === 1 ? 1 : 0);
    case 'int':
    case 'date': {
      const bytes = view(4);
      bytes.setInt32(0, Number(value), true);
      return new Uint8Array(bytes.buffer);
    }
    case 'long':
    case 'timestamptz': {
      const bytes = view(8);
      bytes.setBigInt64(0, BigInt(value), true);
      return new Uint8Array(bytes.buffer);
    }
    case 'double': {
      const bytes = view(8);
      bytes.setFloat64(0, Number(value), true);
      return new Uint8Array(bytes.buffer);
    }
    default:
      return type.startsWith('decimal(') ? unscaledBytes(BigInt(value)) : undefined;
  }
}

/** The fewest big-endian bytes whose two's complement is `value` (Java's `BigInteger.toByteArray`). */
function unscaledBytes(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  // Done once the rest is all sign bits and the last byte's top bit agrees with that sign.
  do {
    bytes.unshift(Number(BigInt.asUintN(8, rest)));
    rest >>= 8n;
  } while (!(rest === 0n && bytes[0]! < 0x80) && !(rest === -1n && bytes[0]! >= 0x80));
  return Uint8Array.from(bytes);
}
