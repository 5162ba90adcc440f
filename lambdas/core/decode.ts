import { ABSENT, FlatJsonScanner, PRESENT } from './flat-json.ts';
import { StringDictionary } from './string-dictionary.ts';
import type { ColumnSpec } from './schema.ts';
import type { TableSpec } from './table-declaration.ts';

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
  /** How far the event time may lie before the Kafka timestamp (late data), in milliseconds. */
  readonly maxEventAgeMs: number;
  /** How far the event time may lie after the Kafka timestamp (clock skew), in milliseconds. */
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

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;
// The largest instant a Date can hold (ECMAScript: ±100,000,000 days around 1970).
const MAX_INSTANT_MS = 8.64e15;
// ISO-8601 date-time with an explicit zone: a reading without a zone is ambiguous, so it is rejected.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Decodes and validates record values against a table's declared fields into a row of numbers:
 * one slot per field, in declaration order, then one for `_extra` (the fields the declaration does
 * not name, as JSON text); timestamps as epoch milliseconds, strings as ids into the slot's
 * `StringDictionary`, NaN for null. Plain records are read by the `FlatJsonScanner` fast path, so
 * a record costs no object or string of its own; anything else (including a record with fields the
 * declaration does not name) is parsed by `JSON.parse`, which also words every rejection. One
 * decoder serves one compactor run: its dictionaries hold the run's distinct strings.
 */
export class RecordDecoder {
  /** Per slot (fields, then `_extra`), the dictionary of its values for string slots. */
  readonly dictionaries: readonly (StringDictionary | undefined)[];
  /** Where the event time is in the row. */
  readonly eventTimeIndex: number;
  /** Where `_extra` is in the row: the slots of the declared fields come first. */
  readonly extraIndex: number;
  private readonly fields: readonly ColumnSpec[];
  private readonly limits: ValidationLimits;
  private readonly scanner: FlatJsonScanner;
  private readonly instants = new InstantReader();

  constructor(table: TableSpec, limits: ValidationLimits) {
    this.fields = table.fields;
    this.limits = limits;
    this.eventTimeIndex = table.fields.findIndex((field) => field.name === table.eventTime);
    this.extraIndex = table.fields.length;
    this.dictionaries = [...table.fields.map((field) => (field.type === 'string' ? new StringDictionary() : undefined)), new StringDictionary()];
    this.scanner = new FlatJsonScanner(table.fields.map((field) => ({ name: field.name, kind: scannedKind(field), hashed: field.type === 'string' })));
  }

  /**
   * Decodes one record value into the first `extraIndex + 1` slots of `row`. Returns why the
   * record was rejected, or `undefined` when `row` holds a valid record. `kafkaTimestamp` anchors the
   * sane window for the event time, so the verdict depends only on the record.
   */
  decode(value: Uint8Array, kafkaTimestamp: number, row: Float64Array): Rejection | undefined {
    const limits = this.limits;
    if (value.byteLength > limits.maxRecordBytes) {
      return new Rejection('too_large', `value is ${value.byteLength} bytes, the limit is ${limits.maxRecordBytes}`);
    }
    if (!this.readPlain(value, row)) {
      const rejection = this.readGenerally(value, row);
      if (rejection) return rejection;
    }
    const eventTime = row[this.eventTimeIndex]!;
    if (eventTime < kafkaTimestamp - limits.maxEventAgeMs || eventTime > kafkaTimestamp + limits.maxEventFutureMs) {
      return new Rejection(
        'timestamp_out_of_range',
        `${this.fields[this.eventTimeIndex]!.name} ${new Date(eventTime).toISOString()} is outside the accepted window around the record timestamp ${new Date(kafkaTimestamp).toISOString()}`,
      );
    }
    return undefined;
  }

  /** The fast path: true when the scanner read the record and every field is valid as read; false leaves the verdict to `readGenerally`. */
  private readPlain(value: Uint8Array, row: Float64Array): boolean {
    if (!this.scanner.scan(value)) return false;
    const { state, numbers, starts, ends, hashes } = this.scanner.values;
    const fields = this.fields;
    // A field the declaration does not name goes to `_extra`, which the general path writes.
    if (state[fields.length] !== ABSENT) return false;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (state[i] !== PRESENT) {
        if (!field.nullable) return false;
        row[i] = Number.NaN;
        continue;
      }
      switch (field.type) {
        case 'string': {
          const dictionary = this.dictionaries[i]!;
          let id = dictionary.find(value, starts[i]!, ends[i]!, hashes[i]!);
          if (id < 0) {
            const text = latin1.call(value, starts[i]!, ends[i]!);
            if (stringProblem(field, text)) return false;
            id = dictionary.add(text, value, starts[i]!, ends[i]!, hashes[i]!);
          }
          row[i] = id;
          break;
        }
        case 'timestamp': {
          const millis = scannedKind(field) === 'string' ? this.instants.read(value, starts[i]!, ends[i]!) : epochMillisOf(field, numbers[i]!);
          if (Number.isNaN(millis)) return false;
          row[i] = millis;
          break;
        }
        case 'date': {
          const days = daysOf(value, starts[i]!, ends[i]!);
          if (Number.isNaN(days)) return false;
          row[i] = days;
          break;
        }
        case 'double':
        case 'boolean':
          row[i] = numbers[i]!;
          break;
        case 'int':
        case 'bigint':
          if (!Number.isInteger(numbers[i]!) || integerProblem(field, numbers[i]!)) return false;
          row[i] = numbers[i]!;
      }
    }
    row[this.extraIndex] = Number.NaN;
    return true;
  }

  /** UTF-8 validation, `JSON.parse` and a check of each field: the path for whatever the fast path leaves. */
  private readGenerally(value: Uint8Array, row: Float64Array): Rejection | undefined {
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
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      const result = decodeField(field, Object.hasOwn(input, field.name) ? input[field.name] : undefined);
      if (result instanceof Rejection) return result;
      row[i] = typeof result === 'string' ? this.dictionaries[i]!.idOf(result) : (result ?? Number.NaN);
    }
    const extra = extraFieldsOf(input, fields);
    row[this.extraIndex] = extra === undefined ? Number.NaN : this.dictionaries[this.extraIndex]!.idOf(extra);
    return undefined;
  }

  /** The names of the fields the declaration does not name that this decoder has seen, sorted. */
  unknownFields(): string[] {
    const names = new Set<string>();
    for (const extra of this.dictionaries[this.extraIndex]!.values) for (const name of Object.keys(JSON.parse(extra) as object)) names.add(name);
    return [...names].sort();
  }
}

/** The fields of `input` the declaration does not name, as the JSON text of an object; undefined when there are none. */
function extraFieldsOf(input: Record<string, unknown>, fields: readonly ColumnSpec[]): string | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const name of Object.keys(input)) {
    if (fields.some((field) => field.name === name)) continue;
    (extra ??= {})[name] = input[name];
  }
  return extra === undefined ? undefined : JSON.stringify(extra);
}

/** The kind of JSON value the fast path takes for a field; a timestamp that may also be a number leaves numbers to the general path. */
function scannedKind(field: ColumnSpec): 'string' | 'number' | 'boolean' {
  if (field.type === 'string' || field.type === 'date') return 'string';
  if (field.type === 'boolean') return 'boolean';
  if (field.type === 'timestamp') return field.timestampInput === 'epoch-millis' || field.timestampInput === 'epoch-seconds' ? 'number' : 'string';
  return 'number';
}

/** Epoch milliseconds of an epoch number as the field declares it, NaN when it is not a whole number in range. */
function epochMillisOf(field: ColumnSpec, epoch: number): number {
  const millis = field.timestampInput === 'epoch-seconds' ? epoch * 1000 : epoch;
  return Number.isSafeInteger(epoch) && Math.abs(millis) <= MAX_INSTANT_MS ? millis : Number.NaN;
}

function decodeField(field: ColumnSpec, raw: unknown): string | number | null | Rejection {
  if (raw === undefined || raw === null) {
    return field.nullable ? null : new Rejection('missing_field', `${field.name} is required`);
  }
  switch (field.type) {
    case 'string':
      if (typeof raw !== 'string') return new Rejection('wrong_type', `${field.name} must be a string, got ${typeof raw}`);
      return stringProblem(field, raw) ?? raw;
    case 'double':
      if (typeof raw !== 'number') return new Rejection('wrong_type', `${field.name} must be a number, got ${typeof raw}`);
      if (!Number.isFinite(raw)) return new Rejection('invalid_value', `${field.name} must be a finite number, got ${raw}`);
      return raw;
    case 'int':
    case 'bigint':
      if (typeof raw !== 'number') return new Rejection('wrong_type', `${field.name} must be an integer, got ${typeof raw}`);
      if (!Number.isSafeInteger(raw)) return new Rejection('invalid_value', `${field.name} must be an integer, got ${raw}`);
      return integerProblem(field, raw) ?? raw;
    case 'boolean':
      if (typeof raw !== 'boolean') return new Rejection('wrong_type', `${field.name} must be true or false, got ${typeof raw}`);
      return raw ? 1 : 0;
    case 'date': {
      if (typeof raw !== 'string') return new Rejection('wrong_type', `${field.name} must be a date string (YYYY-MM-DD), got ${typeof raw}`);
      const days = ISO_DATE.test(raw) && isCalendarDate(raw) ? Date.parse(raw) / DAY_MS : Number.NaN;
      return Number.isNaN(days) ? new Rejection('invalid_value', `${field.name} must be a calendar date YYYY-MM-DD, got ${JSON.stringify(raw)}`) : days;
    }
    case 'timestamp':
      return decodeTimestamp(field, raw);
  }
}

/** Days since 1970-01-01 of the `YYYY-MM-DD` date in bytes [start, end), NaN for anything else. */
function daysOf(bytes: Uint8Array, start: number, end: number): number {
  if (end - start !== 10 || bytes[start + 4] !== 0x2d || bytes[start + 7] !== 0x2d) return Number.NaN;
  const year = digits(bytes, start, 4);
  const month = digits(bytes, start + 5, 2);
  const day = digits(bytes, start + 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as written.
  return new Date(0).setUTCFullYear(year, month - 1, day) / DAY_MS;
}

/** Why an integer is outside the range `field` declares, if it is. */
function integerProblem(field: ColumnSpec, value: number): Rejection | undefined {
  if ((field.minimum !== undefined && value < field.minimum) || (field.maximum !== undefined && value > field.maximum)) {
    return new Rejection('invalid_value', `${field.name} must be within [${field.minimum ?? '-∞'}, ${field.maximum ?? '∞'}], got ${value}`);
  }
  return undefined;
}

/** Why a string is not a valid value of `field`, if it is not. */
function stringProblem(field: ColumnSpec, text: string): Rejection | undefined {
  const minLength = field.minLength ?? 0;
  // JSON Schema counts characters (code points); a UTF-16 length of twice the minimum holds enough of them.
  if (text.length < 2 * minLength && [...text].length < minLength) {
    return new Rejection('invalid_value', minLength === 1 ? `${field.name} must not be empty` : `${field.name} must be at least ${minLength} characters`);
  }
  if (field.allowed && !field.allowed.includes(text)) {
    return new Rejection('invalid_value', `${field.name} must be one of ${field.allowed.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return undefined;
}

function decodeTimestamp(field: ColumnSpec, raw: unknown): number | Rejection {
  const { name, timestampInput = 'iso' } = field;
  if (typeof raw === 'number' && timestampInput !== 'iso') {
    const unit = timestampInput === 'epoch-seconds' ? 'seconds' : 'milliseconds';
    const millis = epochMillisOf(field, raw);
    return Number.isNaN(millis) ? new Rejection('invalid_value', `${name} as a number must be integer epoch ${unit} within ±${MAX_INSTANT_MS} ms, got ${raw}`) : millis;
  }
  if (typeof raw !== 'string' || timestampInput === 'epoch-millis' || timestampInput === 'epoch-seconds') {
    const expected = { iso: 'an ISO-8601 string', 'iso-or-epoch-millis': 'an ISO-8601 string or epoch milliseconds', 'epoch-millis': 'integer epoch milliseconds', 'epoch-seconds': 'integer epoch seconds' }[timestampInput];
    return new Rejection('wrong_type', `${name} must be ${expected}, got ${typeof raw}`);
  }
  const millis = ISO_INSTANT.test(raw) && isCalendarDate(raw) ? Date.parse(raw) : Number.NaN;
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
 * (`yyyy-MM-ddTHH:mm:ss.sssZ`, years 1970-9999), read digit by digit from the bytes: no string,
 * no regex, and the date is worked out once per day seen rather than once per record.
 */
class InstantReader {
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

// The number written by `length` ASCII digits at `start`, or -1 if any is not a digit.
function digits(bytes: Uint8Array, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}
