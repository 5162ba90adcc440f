import { Rejection } from './rejection.ts';
import type { ColumnSpec } from './schema.ts';

/**
 * Validation of one scalar value as `JSON.parse` gives it, against the column it is declared as:
 * strings, integers, doubles, booleans, dates and timestamps. Each check names the value by its
 * `path` in the record (`total`, `address.city`, `items[2].qty`), so a quarantined record says
 * exactly where it went wrong.
 */

// The largest instant a Date can hold (ECMAScript: ±100,000,000 days around 1970).
export const MAX_INSTANT_MS = 8.64e15;
export const DAY_MS = 86_400_000;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
// ISO-8601 date-time with an explicit zone: a reading without a zone is ambiguous, so it is rejected.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Where a value is in the record, as a message words it; an object is rendered only when a message is. */
export type PathText = string | { toString(): string };

/**
 * The value of a scalar column in a row slot's form (a string, or a number: epoch milliseconds for
 * a timestamp, days since 1970 for a date, 1 or 0 for a boolean), null for an allowed null, or why
 * `raw` is not a valid value.
 */
export function decodeScalar(field: ColumnSpec, raw: unknown, path: PathText): string | number | null | Rejection {
  if (raw === undefined || raw === null) {
    return field.nullable ? null : new Rejection('missing_field', `${path} is required`);
  }
  switch (field.type) {
    case 'string':
      if (typeof raw !== 'string') return new Rejection('wrong_type', `${path} must be a string, got ${typeof raw}`);
      return stringProblem(field, raw, path) ?? raw;
    case 'double':
      if (typeof raw !== 'number') return new Rejection('wrong_type', `${path} must be a number, got ${typeof raw}`);
      if (!Number.isFinite(raw)) return new Rejection('invalid_value', `${path} must be a finite number, got ${raw}`);
      return raw;
    case 'int':
    case 'bigint':
      if (typeof raw !== 'number') return new Rejection('wrong_type', `${path} must be an integer, got ${typeof raw}`);
      if (!Number.isSafeInteger(raw)) return new Rejection('invalid_value', `${path} must be an integer, got ${raw}`);
      return integerProblem(field, raw, path) ?? raw;
    case 'boolean':
      if (typeof raw !== 'boolean') return new Rejection('wrong_type', `${path} must be true or false, got ${typeof raw}`);
      return raw ? 1 : 0;
    case 'date': {
      if (typeof raw !== 'string') return new Rejection('wrong_type', `${path} must be a date string (YYYY-MM-DD), got ${typeof raw}`);
      const days = ISO_DATE.test(raw) && isCalendarDate(raw) ? Date.parse(raw) / DAY_MS : Number.NaN;
      return Number.isNaN(days) ? new Rejection('invalid_value', `${path} must be a calendar date YYYY-MM-DD, got ${JSON.stringify(raw)}`) : days;
    }
    case 'timestamp':
      return decodeTimestamp(field, raw, path);
    default:
      throw new TypeError(`${path} is a ${field.type} column, which is not a scalar: read it with NestedReader`);
  }
}

/** Why an integer is outside the range `field` declares, if it is. */
export function integerProblem(field: ColumnSpec, value: number, path: PathText): Rejection | undefined {
  if ((field.minimum !== undefined && value < field.minimum) || (field.maximum !== undefined && value > field.maximum)) {
    return new Rejection('invalid_value', `${path} must be within [${field.minimum ?? '-∞'}, ${field.maximum ?? '∞'}], got ${value}`);
  }
  return undefined;
}

/** Why a string is not a valid value of `field`, if it is not. */
export function stringProblem(field: ColumnSpec, text: string, path: PathText): Rejection | undefined {
  const minLength = field.minLength ?? 0;
  // JSON Schema counts characters (code points); a UTF-16 length of twice the minimum holds enough of them.
  if (text.length < 2 * minLength && [...text].length < minLength) {
    return new Rejection('invalid_value', minLength === 1 ? `${path} must not be empty` : `${path} must be at least ${minLength} characters`);
  }
  if (field.allowed && !field.allowed.includes(text)) {
    return new Rejection('invalid_value', `${path} must be one of ${field.allowed.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return undefined;
}

/** Epoch milliseconds of an epoch number as the field declares it, NaN when it is not a whole number in range. */
export function epochMillisOf(field: ColumnSpec, epoch: number): number {
  const millis = field.timestampInput === 'epoch-seconds' ? epoch * 1000 : epoch;
  return Number.isSafeInteger(epoch) && Math.abs(millis) <= MAX_INSTANT_MS ? millis : Number.NaN;
}

function decodeTimestamp(field: ColumnSpec, raw: unknown, path: PathText): number | Rejection {
  const { timestampInput = 'iso' } = field;
  if (typeof raw === 'number' && timestampInput !== 'iso') {
    const unit = timestampInput === 'epoch-seconds' ? 'seconds' : 'milliseconds';
    const millis = epochMillisOf(field, raw);
    return Number.isNaN(millis) ? new Rejection('invalid_value', `${path} as a number must be integer epoch ${unit} within ±${MAX_INSTANT_MS} ms, got ${raw}`) : millis;
  }
  if (typeof raw !== 'string' || timestampInput === 'epoch-millis' || timestampInput === 'epoch-seconds') {
    const expected = { iso: 'an ISO-8601 string', 'iso-or-epoch-millis': 'an ISO-8601 string or epoch milliseconds', 'epoch-millis': 'integer epoch milliseconds', 'epoch-seconds': 'integer epoch seconds' }[timestampInput];
    return new Rejection('wrong_type', `${path} must be ${expected}, got ${typeof raw}`);
  }
  const millis = ISO_INSTANT.test(raw) && isCalendarDate(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(millis)) {
    return new Rejection('invalid_value', `${path} must be an ISO-8601 date-time with a zone (e.g. 2026-01-31T12:00:00Z), got ${JSON.stringify(raw)}`);
  }
  return millis;
}

/** Days since 1970-01-01 of the `YYYY-MM-DD` date in bytes [start, end), NaN for anything else. */
export function daysOf(bytes: Uint8Array, start: number, end: number): number {
  if (end - start !== 10 || bytes[start + 4] !== 0x2d || bytes[start + 7] !== 0x2d) return Number.NaN;
  const year = digits(bytes, start, 4);
  const month = digits(bytes, start + 5, 2);
  const day = digits(bytes, start + 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as written.
  return new Date(0).setUTCFullYear(year, month - 1, day) / DAY_MS;
}

// Date.parse rolls impossible days over (2026-02-30 becomes 2026-03-02): reject them instead.
function isCalendarDate(iso: string): boolean {
  const [year, month, day] = iso.slice(0, 10).split('-').map(Number) as [number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The number written by `length` ASCII digits at `start`, or -1 if any is not a digit. */
export function digits(bytes: Uint8Array, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
