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

/** A decoded event: one value per event field, timestamps as epoch milliseconds. */
export type EventValues = Record<string, string | number | null>;

export type DecodeResult =
  | { readonly ok: true; readonly event: EventValues }
  | { readonly ok: false; readonly reason: QuarantineReason; readonly detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
// The largest instant a Date can hold (ECMAScript: ±100,000,000 days around 1970).
const MAX_INSTANT_MS = 8.64e15;
// ISO-8601 date-time with an explicit zone: a reading without a zone is ambiguous, so it is rejected.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function reject(reason: QuarantineReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

/**
 * Decodes and validates one record value against the event schema.
 * `kafkaTimestamp` anchors the sane window for `event_time`, so the verdict depends only on the record.
 */
export function decodeEvent(value: Uint8Array, kafkaTimestamp: number, limits: ValidationLimits): DecodeResult {
  if (value.byteLength > limits.maxRecordBytes) {
    return reject('too_large', `value is ${value.byteLength} bytes, the limit is ${limits.maxRecordBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return reject('not_utf8', 'value is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return reject('not_json', (error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('not_object', `value is JSON ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed}, expected an object`);
  }
  const input = parsed as Record<string, unknown>;
  const event: EventValues = {};
  for (const field of EVENT_FIELDS) {
    const result = decodeField(field, input[field.name]);
    if (typeof result === 'object' && result !== null) return result;
    event[field.name] = result;
  }
  const eventTime = event.event_time as number;
  if (eventTime < kafkaTimestamp - limits.maxEventAgeMs || eventTime > kafkaTimestamp + limits.maxEventFutureMs) {
    return reject(
      'timestamp_out_of_range',
      `event_time ${new Date(eventTime).toISOString()} is outside the accepted window around the record timestamp ${new Date(kafkaTimestamp).toISOString()}`,
    );
  }
  return { ok: true, event };
}

function decodeField(field: ColumnSpec, raw: unknown): string | number | null | DecodeResult {
  if (raw === undefined || raw === null) {
    return field.nullable ? null : reject('missing_field', `${field.name} is required`);
  }
  switch (field.type) {
    case 'string':
      if (typeof raw !== 'string') return reject('wrong_type', `${field.name} must be a string, got ${typeof raw}`);
      if (raw.length === 0) return reject('invalid_value', `${field.name} must not be empty`);
      if (field.allowed && !field.allowed.includes(raw)) {
        return reject('invalid_value', `${field.name} must be one of ${field.allowed.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    case 'double':
      if (typeof raw !== 'number') return reject('wrong_type', `${field.name} must be a number, got ${typeof raw}`);
      if (!Number.isFinite(raw)) return reject('invalid_value', `${field.name} must be a finite number, got ${raw}`);
      return raw;
    case 'int':
    case 'bigint':
      if (typeof raw !== 'number') return reject('wrong_type', `${field.name} must be an integer, got ${typeof raw}`);
      if (!Number.isSafeInteger(raw)) return reject('invalid_value', `${field.name} must be an integer, got ${raw}`);
      return raw;
    case 'timestamp':
      return decodeTimestamp(field.name, raw);
  }
}

function decodeTimestamp(name: string, raw: unknown): number | DecodeResult {
  if (typeof raw === 'number') {
    return Number.isSafeInteger(raw) && Math.abs(raw) <= MAX_INSTANT_MS
      ? raw
      : reject('invalid_value', `${name} as a number must be integer epoch milliseconds within ±${MAX_INSTANT_MS}, got ${raw}`);
  }
  if (typeof raw !== 'string') return reject('wrong_type', `${name} must be an ISO-8601 string or epoch milliseconds, got ${typeof raw}`);
  const millis = ISO_INSTANT.test(raw) && isCalendarDate(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(millis)) {
    return reject('invalid_value', `${name} must be an ISO-8601 date-time with a zone (e.g. 2026-01-31T12:00:00Z), got ${JSON.stringify(raw)}`);
  }
  return millis;
}

// Date.parse rolls impossible days over (2026-02-30 becomes 2026-03-02): reject them instead.
function isCalendarDate(iso: string): boolean {
  const [year, month, day] = iso.slice(0, 10).split('-').map(Number) as [number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}
