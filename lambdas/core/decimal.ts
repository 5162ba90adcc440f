/**
 * Exact decimals: the digits of a JSON number (its source text) or of a string, turned into the
 * unscaled integer of a DECIMAL(P,S), the value times 10^S, with BigInt arithmetic only. A double
 * holds 15 to 17 significant digits, so `12345678901234567.89` read through one would come out as
 * `12345678901234568`: nothing here ever makes one.
 */

// JSON's number grammar; a string decimal is written the same way.
const NUMBER_TEXT = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Why some text is not a value of a DECIMAL(P,S), in words that follow "… got <text>, which". */
export type DecimalProblem = { readonly problem: string };

/**
 * The unscaled value of `text` as a DECIMAL(`precision`, `scale`), or why it is not one: not a
 * number, more significant digits after the point than `scale` (trailing zeros are not significant:
 * `1.50` is 1.5), or more digits before the point than `precision - scale`.
 */
export function unscaledDecimal(text: string, precision: number, scale: number): bigint | DecimalProblem {
  const match = NUMBER_TEXT.exec(text);
  if (!match) return { problem: 'is not a number' };
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  // The value is digits × 10^power, with no trailing zeros in digits (or digits empty for zero).
  let digits = (whole! + fraction).replace(/^0+/, '');
  let power = Number(exponent) - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  power += digits.length - trimmed.length;
  digits = trimmed;
  if (digits === '') return 0n;
  if (-power > scale) return { problem: `has more than ${scale} digits after the point` };
  if (digits.length + power > precision - scale) return { problem: `has more than ${precision - scale} digits before the point` };
  // Both checks passed, so scale + power is between 0 and precision: the power of ten stays small.
  const unscaled = BigInt(digits) * 10n ** BigInt(scale + power);
  return sign === '-' ? -unscaled : unscaled;
}
