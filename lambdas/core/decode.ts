import type { Row } from './column-batch.ts';
import { FlatJsonScanner } from './flat-json.ts';
import { EVENT_FIELDS, type ColumnSpec } from './schema.ts';

/** Why a record went to quarantine instead of the lake. */
export const QUARANTINE_REASONS = [
  'too_large',
  'not_utf8',
  'not_json',
  'not_object',
  'missing_field',
  'wrong_type',
  'invalid_value',
  'timestamp_out_of_range',
] as const;
export type QuarantineReason = (typeof QUARANTINE_REASONS)[number];

/** Bounds a record must respect to enter the lake. */
export interface ValidationLimits {
  /** Largest accepted record value, in bytes. */
  readonly maxRecordBytes: number;
  /** How far `event_time` may lie before the Kafka timestamp (late data), in milliseconds. */
  readonly maxEventAgeMs: number;
  /** How far `event_time` may lie after the Kafka timestamp (clock skew), in milliseconds. */
  readonly maxEventFutureMs: number;
}

/** The limits as configured (sizes in bytes, windows in hours and minutes), converted to `ValidationLimits`. */
export function validationLimits(settings: { readonly maxRecordBytes: number; readonly maxEventAgeHours: number; readonly maxEventFutureMinutes: number }): ValidationLimits {
  return {
    maxRecordBytes: settings.maxRecordBytes,
    maxEventAgeMs: settings.maxEventAgeHours * 3_600_000,
    maxEventFutureMs: settings.maxEventFutureMinutes * 60_000,
  };
}

/** Why a record cannot enter the lake. */
export class Rejection {
  readonly reason: QuarantineReason;
  readonly detail: string;

  constructor(reason: QuarantineReason, detail: string) {
    this.reason = reason;
    this.detail = detail;
  }
}

/** Where `decodeEvent` puts `event_time` in the row. */
export const EVENT_TIME_INDEX = EVENT_FIELDS.findIndex((field) => field.name === 'event_time');

const utf8 = new TextDecoder('utf-8', { fatal: true });
const scanner = new FlatJsonScanner(EVENT_FIELDS.map((field) => ({ name: field.name, repetitive: field.type === 'string' })));
// The raw field values of the record being decoded, by position (decoding is synchronous, so one suffices).
const raw: unknown[] = [];
// The largest instant a Date can hold (ECMAScript: ±100,000,000 days around 1970).
const MAX_INSTANT_MS = 8.64e15;
// ISO-8601 date-time with an explicit zone: a reading without a zone is ambiguous, so it is rejected.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Decodes and validates one record value against the event schema into `row`: one value per
 * event field, in `EVENT_FIELDS` order, timestamps as epoch milliseconds. Returns why the record
 * was rejected, or `undefined` when `row` holds a valid event. The caller reuses `row`; plain
 * records are read by the `FlatJsonScanner` fast path, so a record costs no object of its own.
 * `kafkaTimestamp` anchors the sane window for `event_time`, so the verdict depends only on the record.
 */
export function decodeEvent(value: Uint8Array, kafkaTimestamp: number, limits: ValidationLimits, row: Row): Rejection | undefined {
  if (value.byteLength > limits.maxRecordBytes) {
    return new Rejection('too_large', `value is ${value.byteLength} bytes, the limit is ${limits.maxRecordBytes}`);
  }
  if (!scanner.scan(value, raw)) {
    const rejection = parseGenerally(value, raw);
    if (rejection) return rejection;
  }
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    const result = decodeField(EVENT_FIELDS[i]!, raw[i]);
    if (result instanceof Rejection) return result;
    row[i] = result;
  }
  const eventTime = row[EVENT_TIME_INDEX] as number;
  if (eventTime < kafkaTimestamp - limits.maxEventAgeMs || eventTime > kafkaTimestamp + limits.maxEventFutureMs) {
    return new Rejection(
      'timestamp_out_of_range',
      `event_time ${new Date(eventTime).toISOString()} is outside the accepted window around the record timestamp ${new Date(kafkaTimestamp).toISOString()}`,
    );
  }
  return undefined;
}

/** UTF-8 validation and `JSON.parse`, for whatever the fast path leaves: the field values go into `raw` by position. */
function parseGenerally(value: Uint8Array, raw: unknown[]): Rejection | undefined {
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return new Rejection('not_utf8', 'value is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return new Rejection('not_json', (error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return new Rejection('not_object', `value is JSON ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed}, expected an object`);
  }
  const input = parsed as Record<string, unknown>;
  for (let i = 0; i < EVENT_FIELDS.length; i++) raw[i] = Object.hasOwn(input, EVENT_FIELDS[i]!.name) ? input[EVENT_FIELDS[i]!.name] : undefined;
  return undefined;
}

function decodeField(field: ColumnSpec, raw: unknown): string | number | null | Rejection {
  if (raw === undefined || raw === null) {
    return field.nullable ? null : new Rejection('missing_field', `${field.name} is required`);
  }
  switch (field.type) {
    case 'string':
      if (typeof raw !== 'string') return new Rejection('wrong_type', `${field.name} must be a string, got ${typeof raw}`);
      if (raw.length === 0) return new Rejection('invalid_value', `${field.name} must not be empty`);
      if (field.allowed && !field.allowed.includes(raw)) {
        return new Rejection('invalid_value', `${field.name} must be one of ${field.allowed.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    case 'double':
      if (typeof raw !== 'number') return new Rejection('wrong_type', `${field.name} must be a number, got ${typeof raw}`);
      if (!Number.isFinite(raw)) return new Rejection('invalid_value', `${field.name} must be a finite number, got ${raw}`);
      return raw;
    case 'int':
    case 'bigint':
      if (typeof raw !== 'number') return new Rejection('wrong_type', `${field.name} must be an integer, got ${typeof raw}`);
      if (!Number.isSafeInteger(raw)) return new Rejection('invalid_value', `${field.name} must be an integer, got ${raw}`);
      return raw;
    case 'timestamp':
      return decodeTimestamp(field.name, raw);
  }
}

function decodeTimestamp(name: string, raw: unknown): number | Rejection {
  if (typeof raw === 'number') {
    return Number.isSafeInteger(raw) && Math.abs(raw) <= MAX_INSTANT_MS
      ? raw
      : new Rejection('invalid_value', `${name} as a number must be integer epoch milliseconds within ±${MAX_INSTANT_MS}, got ${raw}`);
  }
  if (typeof raw !== 'string') return new Rejection('wrong_type', `${name} must be an ISO-8601 string or epoch milliseconds, got ${typeof raw}`);
  const millis = canonicalInstant(raw) ?? (ISO_INSTANT.test(raw) && isCalendarDate(raw) ? Date.parse(raw) : Number.NaN);
  if (Number.isNaN(millis)) {
    return new Rejection('invalid_value', `${name} must be an ISO-8601 date-time with a zone (e.g. 2026-01-31T12:00:00Z), got ${JSON.stringify(raw)}`);
  }
  return millis;
}

// Date.parse rolls impossible days over (2026-02-30 becomes 2026-03-02): reject them instead.
function isCalendarDate(iso: string): boolean {
  const [year, month, day] = iso.slice(0, 10).split('-').map(Number) as [number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * The fast path for what producers send almost always, `Date#toISOString()` output
 * (`yyyy-MM-ddTHH:mm:ss.sssZ`, years 1970-9999): read digit by digit, no regex, no Date parsing.
 * Anything else, including any field out of range, returns `undefined` for the general path to judge.
 */
function canonicalInstant(text: string): number | undefined {
  if (text.length !== 24 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58
    || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46 || text.charCodeAt(23) !== 90) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const millis = digits(text, 20, 3);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millis < 0) return undefined;
  if (day > 28 && day > daysInMonth(year, month)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

// The number written by `length` ASCII digits at `start`, or -1 if any is not a digit.
function digits(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
