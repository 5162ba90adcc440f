import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unscaledDecimal } from '../../../lambdas/core/decimal.ts';

describe('unscaledDecimal', () => {
  it('reads digits exactly, past what a double holds', () => {
    expect(unscaledDecimal('12345678901234567.89', 19, 2)).toBe(1234567890123456789n);
    expect(unscaledDecimal('-99999999999999999999999999999999999.999', 38, 3)).toBe(-99999999999999999999999999999999999999n);
    expect(unscaledDecimal('0.000000000000000001', 38, 18)).toBe(1n);
  });

  it('scales to the declared scale: fewer digits after the point are padded, trailing zeros are not significant', () => {
    expect(unscaledDecimal('5', 9, 2)).toBe(500n);
    expect(unscaledDecimal('19.9', 9, 2)).toBe(1990n);
    expect(unscaledDecimal('1.5000', 9, 2)).toBe(150n);
    expect(unscaledDecimal('-0', 9, 2)).toBe(0n);
    expect(unscaledDecimal('0.00', 1, 0)).toBe(0n);
  });

  it('reads exponents as JSON writes them', () => {
    expect(unscaledDecimal('1.5e3', 9, 2)).toBe(150000n);
    expect(unscaledDecimal('125E-2', 9, 2)).toBe(125n);
    expect(unscaledDecimal('1e+2', 3, 0)).toBe(100n);
    expect(unscaledDecimal('0e999999999999', 3, 0)).toBe(0n);
  });

  it.each([
    ['1.234', 9, 2, 'has more than 2 digits after the point'],
    ['1e-3', 9, 2, 'has more than 2 digits after the point'],
    ['1234567.5', 8, 2, 'has more than 6 digits before the point'],
    ['1e7', 8, 2, 'has more than 6 digits before the point'],
    ['1', 2, 2, 'has more than 0 digits before the point'],
    ['1e99999999999999999999', 38, 0, 'has more than 38 digits before the point'],
    ['12.', 9, 2, 'is not a number'],
    ['.5', 9, 2, 'is not a number'],
    ['01', 9, 2, 'is not a number'],
    ['1,5', 9, 2, 'is not a number'],
    [' 1', 9, 2, 'is not a number'],
    ['NaN', 9, 2, 'is not a number'],
  ])('refuses %s as decimal(%i,%i): it %s', (text, precision, scale, problem) => {
    expect(unscaledDecimal(text, precision, scale)).toEqual({ problem });
  });

  it('reads back every value of every precision and scale, however it is written', () => {
    const cases = fc.integer({ min: 1, max: 38 }).chain((precision) =>
      fc.record({
        precision: fc.constant(precision),
        scale: fc.integer({ min: 0, max: precision }),
        unscaled: fc.bigInt({ min: -(10n ** BigInt(precision)) + 1n, max: 10n ** BigInt(precision) - 1n }),
        trailingZeros: fc.integer({ min: 0, max: 3 }),
        shift: fc.integer({ min: 0, max: 5 }),
      }),
    );
    fc.assert(
      fc.property(cases, ({ precision, scale, unscaled, trailingZeros, shift }) => {
        const sign = unscaled < 0n ? '-' : '';
        const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
        const point = digits.length - scale;
        const plain = `${sign}${digits.slice(0, point)}${scale > 0 || trailingZeros > 0 ? '.' : ''}${digits.slice(point)}${'0'.repeat(trailingZeros)}`;
        expect(unscaledDecimal(plain, precision, scale)).toBe(unscaled);
        // The same value as an integer mantissa, `shift` zeros longer, and an exponent that makes up for them.
        const mantissa = (unscaled < 0n ? -unscaled : unscaled).toString();
        expect(unscaledDecimal(`${sign}${mantissa}${unscaled === 0n ? '' : '0'.repeat(shift)}e${-scale - (unscaled === 0n ? 0 : shift)}`, precision, scale)).toBe(unscaled);
      }),
      { numRuns: 500 },
    );
  });
});
