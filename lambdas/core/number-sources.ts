/**
 * The exact text of JSON numbers, for decimals: `JSON.parse` gives a reviver each primitive's
 * source text (`context.source`, Node 21+), and this keeps it, by the object holding the number and
 * its key, wherever it differs from what the parsed double prints as (`12345678901234567.89`
 * parses to 12345678901234568, `1.50` to 1.5). Where it is the same, the double's own text is exact.
 *
 * A reviver makes `JSON.parse` about four times slower, and it is needed only for numbers of more
 * than 15 significant digits: up to 15, distinct decimals are distinct doubles, so the double's
 * shortest text has the value of the digits written. `needsReviver` tells, from the bytes, whether
 * a record may hold a longer one.
 */
export class NumberSources {
  /** Pass to `JSON.parse` as its reviver; `clear` before each parse. */
  readonly reviver: (this: object, key: string, value: unknown, context?: { readonly source?: string }) => unknown;
  private readonly texts = new Map<object, Map<string, string>>();

  constructor() {
    const texts = this.texts;
    this.reviver = function (this: object, key, value, context) {
      if (typeof value === 'number' && context?.source !== undefined && context.source !== String(value)) {
        let byKey = texts.get(this);
        if (!byKey) texts.set(this, (byKey = new Map()));
        byKey.set(key, context.source);
      }
      return value;
    };
  }

  /**
   * Whether `bytes` may hold a JSON number of more than 15 digits: a run of more than 15 digits,
   * a point allowed among them. Digits in strings count too, which only costs a reviver.
   */
  needsReviver(bytes: Uint8Array): boolean {
    let digits = 0;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x30 && byte <= 0x39) {
        if (++digits > 15) return true;
      } else if (byte !== 0x2e) {
        digits = 0;
      }
    }
    return false;
  }

  /** The exact text of the number at `holder[key]` as written in the last parse. */
  textOf(holder: object, key: string, value: number): string {
    return this.texts.get(holder)?.get(key) ?? String(value);
  }

  clear(): void {
    this.texts.clear();
  }
}
