import { daysInMonth, digits } from './scalar-values.ts';

/**
 * The fast path for what producers send almost always, `Date#toISOString()` output
 * (`yyyy-MM-ddTHH:mm:ss.sssZ`, years 1970-9999), read digit by digit from the bytes: no string,
 * no regex, and the date is worked out once per day seen rather than once per record.
 */
export class InstantReader {
  private readonly day = new Uint8Array(10);
  private dayMillis = Number.NaN;

  /** Epoch milliseconds of the instant in bytes [start, end), or NaN for anything else (including any field out of range). */
  read(bytes: Uint8Array, start: number, end: number): number {
    if (end - start !== 24 || bytes[start + 10] !== 0x54 || bytes[start + 13] !== 0x3a || bytes[start + 16] !== 0x3a || bytes[start + 19] !== 0x2e || bytes[start + 23] !== 0x5a) {
      return Number.NaN;
    }
    if (!this.sameDay(bytes, start)) this.readDay(bytes, start);
    const hour = digits(bytes, start + 11, 2);
    const minute = digits(bytes, start + 14, 2);
    const second = digits(bytes, start + 17, 2);
    const millis = digits(bytes, start + 20, 3);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millis < 0) return Number.NaN;
    return this.dayMillis + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  }

  private sameDay(bytes: Uint8Array, start: number): boolean {
    for (let i = 0; i < 10; i++) if (this.day[i] !== bytes[start + i]) return false;
    return true;
  }

  private readDay(bytes: Uint8Array, start: number): void {
    const year = digits(bytes, start, 4);
    const month = digits(bytes, start + 5, 2);
    const day = digits(bytes, start + 8, 2);
    const valid = bytes[start + 4] === 0x2d && bytes[start + 7] === 0x2d && year >= 1970 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
    this.dayMillis = valid ? Date.UTC(year, month - 1, day) : Number.NaN;
    this.day.set(bytes.subarray(start, start + 10));
  }
}
