import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerBound, STRING_BOUND_CODE_POINTS, upperBound } from '../../../lambdas/core/iceberg-bounds.ts';

const hex = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString('hex') : undefined);
const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

/** The value a big-endian two's complement byte string holds, read independently of the code under test. */
function twosComplement(bytes: Uint8Array): bigint {
  const unsigned = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  return bytes[0]! >= 0x80 ? unsigned - (1n << BigInt(8 * bytes.length)) : unsigned;
}

describe("Iceberg's single-value serialization of bounds", () => {
  it('writes int and date as 4 bytes and long and timestamptz (microseconds) as 8 bytes, little-endian two\'s complement', () => {
    expect(hex(lowerBound('int', -2))).toBe('feffffff');
    expect(hex(lowerBound('int', 2_147_483_647))).toBe('ffffff7f');
    expect(hex(lowerBound('date', 20_458))).toBe('ea4f0000'); // 2026-01-05
    expect(hex(lowerBound('long', -2))).toBe('feffffffffffffff');
    expect(hex(upperBound('long', 2n ** 62n))).toBe('0000000000000040');
    const micros = Date.UTC(2026, 0, 5, 10, 0, 0, 1) * 1000;
    expect(Buffer.from(lowerBound('timestamptz', micros)!).readBigInt64LE()).toBe(BigInt(micros));
    expect(hex(lowerBound('timestamptz', -1000))).toBe('18fcffffffffffff'); // a millisecond before 1970
  });

  it('writes double as IEEE 754 little-endian, boolean as one byte (from a flat 0/1 or a nested boolean)', () => {
    expect(hex(lowerBound('double', 1))).toBe('000000000000f03f');
    expect(Buffer.from(upperBound('double', -273.15)!).readDoubleLE()).toBe(-273.15);
    expect([lowerBound('boolean', 0), upperBound('boolean', 1), lowerBound('boolean', false), upperBound('boolean', true)].map(hex)).toEqual(['00', '01', '00', '01']);
  });

  it("writes a decimal's unscaled value in the fewest big-endian two's complement bytes", () => {
    const cases: [bigint, string][] = [[0n, '00'], [1n, '01'], [-1n, 'ff'], [127n, '7f'], [128n, '0080'], [-128n, '80'], [-129n, 'ff7f'], [255n, '00ff'], [65_536n, '010000']];
    for (const [value, bytes] of cases) expect(hex(lowerBound('decimal(9, 2)', value)), String(value)).toBe(bytes);
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), (value) => {
        const bytes = upperBound('decimal(38, 18)', value)!;
        expect(twosComplement(bytes)).toBe(value);
        // Minimal: dropping the first byte would change the value (the rest's sign bit disagrees, or nothing is left).
        if (bytes.length > 1) expect(twosComplement(bytes.subarray(1))).not.toBe(value);
      }),
      { numRuns: 2_000 },
    );
  });

  it('has no serialization for a type streamlake does not write', () => {
    expect(lowerBound('uuid', 'x')).toBeUndefined();
  });
});

describe('string bounds, truncate(16)', () => {
  const a15 = 'a'.repeat(15);

  it('keeps a string of at most 16 code points whole, as both bounds', () => {
    const sixteen = `${a15}😀`; // 16 code points, 17 UTF-16 units
    expect([text(lowerBound('string', sixteen)), text(upperBound('string', sixteen))]).toEqual([sixteen, sixteen]);
  });

  it('cuts a longer one to 16 code points, and raises the last kept one for the upper bound, outside the BMP too', () => {
    expect(text(lowerBound('string', `${a15}bcd`))).toBe(`${a15}b`);
    expect(text(upperBound('string', `${a15}bcd`))).toBe(`${a15}c`);
    expect(text(lowerBound('string', `${a15}😀zz`))).toBe(`${a15}😀`);
    expect(text(upperBound('string', `${a15}😀zz`))).toBe(`${a15}😁`);
    expect(text(upperBound('string', `😀${'é'.repeat(15)}x`))).toBe(`😀${'é'.repeat(14)}ê`);
  });

  it('raises an earlier code point when the last is U+10FFFF, skips the surrogates, and gives no upper bound when none can be raised', () => {
    expect(text(upperBound('string', `${a15}\u{10FFFF}x`))).toBe(`${'a'.repeat(14)}b`);
    expect(text(upperBound('string', `${a15}\uD7FFx`))).toBe(`${a15}\uE000`);
    // A lone surrogate is stored as U+FFFD: the bound grows from that.
    expect([text(lowerBound('string', `${a15}\uD800x`)), text(upperBound('string', `${a15}\uD800x`))]).toEqual([`${a15}\uFFFD`, `${a15}\uFFFE`]);
    expect(upperBound('string', '\u{10FFFF}'.repeat(17))).toBeUndefined();
    expect(text(lowerBound('string', '\u{10FFFF}'.repeat(17)))).toBe('\u{10FFFF}'.repeat(16));
  });

  it('bounds every string longer than 16 code points in UTF-8 byte order, as the Parquet file stores it (lone surrogates as U+FFFD)', () => {
    const long = fc.tuple(fc.string({ unit: 'binary', minLength: 17, maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 5 })).map(([s, tail]) => s + tail);
    fc.assert(
      fc.property(long, (value) => {
        const stored = Buffer.from(value);
        const lower = lowerBound('string', value)!;
        const upper = upperBound('string', value);
        expect([...text(lower)!]).toHaveLength(STRING_BOUND_CODE_POINTS);
        expect(Buffer.compare(Buffer.from(lower), stored)).toBeLessThanOrEqual(0);
        if (upper === undefined) return;
        expect([...text(upper)!].length).toBeLessThanOrEqual(STRING_BOUND_CODE_POINTS);
        expect(Buffer.compare(Buffer.from(upper), stored)).toBeGreaterThan(0);
      }),
      { numRuns: 3_000 },
    );
  });
});
