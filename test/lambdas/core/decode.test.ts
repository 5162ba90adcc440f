import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QUARANTINE_REASONS, RecordDecoder, type QuarantineReason, type ValidationLimits } from '../../../lambdas/core/decode.ts';
import { decodeRecord, type DecodeResult } from '../../helpers/decode.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const EVENT_FIELDS = DEVICE_LOGS.fields;
const STATUSES = EVENT_FIELDS.find((field) => field.name === 'status')!.allowed!;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const LIMITS: ValidationLimits = { maxRecordBytes: 65_536, maxEventAgeMs: 7 * DAY_MS, maxEventFutureMs: 15 * MINUTE_MS };
const KAFKA_TIMESTAMP = Date.parse('2026-01-31T12:00:00Z');
const encoder = new TextEncoder();

function validEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    device_id: 'dev-00001',
    device_name: 'cold-store sensor 00001',
    site: 'cold-store',
    firmware: '2.4.1',
    event_time: '2026-01-31T11:59:30.250Z',
    seq: 42,
    temperature_c: 4.25,
    humidity_pct: 51.3,
    battery_pct: 88.1,
    status: 'ok',
    ...overrides,
  };
}

function withoutField(name: string): Record<string, unknown> {
  const event = validEvent();
  delete event[name];
  return event;
}

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function decode(value: unknown, kafkaTimestamp = KAFKA_TIMESTAMP): DecodeResult {
  return decodeRecord(json(value), kafkaTimestamp, LIMITS);
}

// The device table's columns are flat: strings, numbers or null.
function decoded(result: DecodeResult): Record<string, string | number | null> {
  if (!result.ok) throw new Error(`expected the event to decode, got ${result.reason}: ${result.detail}`);
  return result.event as Record<string, string | number | null>;
}

interface RejectionCase {
  readonly label: string;
  readonly value: Uint8Array;
  /** What the detail must say: the offending field, or what is wrong with a value that has no fields. */
  readonly detail: RegExp;
  readonly kafkaTimestamp?: number;
}

// A Record over QuarantineReason: adding a reason without a test case is a type error.
const REJECTIONS: Record<QuarantineReason, { readonly behaviour: string; readonly cases: readonly RejectionCase[] }> = {
  too_large: {
    behaviour: 'quarantines a value larger than maxRecordBytes, naming its size and the limit',
    cases: [{ label: 'one byte over', value: new Uint8Array(LIMITS.maxRecordBytes + 1).fill(0x20), detail: /65537 bytes.*65536/ }],
  },
  not_utf8: {
    behaviour: 'quarantines a value that is not UTF-8',
    cases: [
      { label: 'bytes 0xff 0xfe', value: new Uint8Array([0xff, 0xfe]), detail: /UTF-8/ },
      { label: 'a lone continuation byte inside JSON', value: new Uint8Array([0x7b, 0x22, 0x80, 0x22, 0x7d]), detail: /UTF-8/ },
    ],
  },
  not_json: {
    behaviour: 'quarantines a value that is not JSON',
    cases: [
      { label: 'truncated object', value: encoder.encode('{"device_id":"dev-00001",'), detail: /JSON|Unexpected|Expected/ },
      { label: 'empty value', value: new Uint8Array(), detail: /JSON|Unexpected|Expected/ },
    ],
  },
  not_object: {
    behaviour: 'quarantines JSON that is not an object, naming what it is',
    cases: [
      { label: 'array', value: json([validEvent()]), detail: /array/ },
      { label: 'number', value: json(42), detail: /number/ },
      { label: 'null', value: json(null), detail: /null/ },
      { label: 'string', value: json('dev-00001'), detail: /string/ },
    ],
  },
  missing_field: {
    behaviour: 'quarantines an event whose required field is absent or null, naming the field',
    cases: [
      { label: 'device_name absent', value: json(withoutField('device_name')), detail: /device_name/ },
      { label: 'event_time absent', value: json(withoutField('event_time')), detail: /event_time/ },
      { label: 'seq null', value: json(validEvent({ seq: null })), detail: /seq/ },
      { label: 'status null', value: json(validEvent({ status: null })), detail: /status/ },
    ],
  },
  wrong_type: {
    behaviour: 'quarantines a field of the wrong JSON type, naming the field',
    cases: [
      { label: 'string for a number', value: json(validEvent({ temperature_c: '4.25' })), detail: /temperature_c/ },
      { label: 'string for an integer', value: json(validEvent({ seq: '42' })), detail: /seq/ },
      { label: 'number for a string', value: json(validEvent({ device_id: 1 })), detail: /device_id/ },
      { label: 'boolean for a timestamp', value: json(validEvent({ event_time: true })), detail: /event_time/ },
      { label: 'object for a string', value: json(validEvent({ firmware: { major: 2 } })), detail: /firmware/ },
    ],
  },
  invalid_value: {
    behaviour: 'quarantines a value outside its field’s domain, naming the field',
    cases: [
      { label: 'status not in STATUSES', value: json(validEvent({ status: 'degraded' })), detail: /status/ },
      { label: 'empty string', value: json(validEvent({ device_id: '' })), detail: /device_id/ },
      { label: 'non-ISO event_time', value: json(validEvent({ event_time: '31/01/2026 11:59' })), detail: /event_time/ },
      { label: 'naive timestamp without zone', value: json(validEvent({ event_time: '2026-01-31T11:59:30' })), detail: /event_time/ },
      { label: 'date without time', value: json(validEvent({ event_time: '2026-01-31' })), detail: /event_time/ },
      { label: 'impossible hour', value: json(validEvent({ event_time: '2026-01-31T25:00:00Z' })), detail: /event_time/ },
      { label: 'non-integer seq', value: json(validEvent({ seq: 1.5 })), detail: /seq/ },
      { label: 'seq beyond safe integers', value: json(validEvent({ seq: 2 ** 60 })), detail: /seq/ },
      { label: 'fractional epoch-ms event_time', value: json(validEvent({ event_time: KAFKA_TIMESTAMP + 0.5 })), detail: /event_time/ },
      { label: 'a reading that overflows to Infinity', value: new TextEncoder().encode(JSON.stringify(validEvent({ temperature_c: 0 })).replace('"temperature_c":0', '"temperature_c":1e400')), detail: /temperature_c/ },
    ],
  },
  timestamp_out_of_range: {
    behaviour: 'quarantines an event_time outside the window around the Kafka timestamp, naming event_time',
    cases: [
      {
        label: 'older than maxEventAgeMs',
        value: json(validEvent({ event_time: new Date(KAFKA_TIMESTAMP - LIMITS.maxEventAgeMs - 1).toISOString() })),
        detail: /event_time/,
      },
      {
        label: 'later than maxEventFutureMs',
        value: json(validEvent({ event_time: KAFKA_TIMESTAMP + LIMITS.maxEventFutureMs + 1 })),
        detail: /event_time/,
      },
      {
        label: 'plausible event_time but a Kafka timestamp a year later',
        value: json(validEvent()),
        kafkaTimestamp: KAFKA_TIMESTAMP + 365 * DAY_MS,
        detail: /event_time/,
      },
    ],
  },
};

describe('decodeEvent', () => {
  describe('quarantine reasons', () => {
    for (const reason of QUARANTINE_REASONS) {
      const { behaviour, cases } = REJECTIONS[reason];
      it(behaviour, () => {
        expect(cases.length).toBeGreaterThan(0);
        for (const { label, value, detail, kafkaTimestamp } of cases) {
          const result = decodeRecord(value, kafkaTimestamp ?? KAFKA_TIMESTAMP, LIMITS);
          expect(result, label).toEqual({ ok: false, reason, detail: expect.stringMatching(detail) });
        }
      });
    }
  });

  it('quarantines an epoch-ms event_time beyond the range of a Date instead of throwing', () => {
    // A safe integer, but past the largest instant a Date can hold (8.64e15 ms): one such record must not stop compaction.
    let result: DecodeResult | undefined;
    expect(() => {
      result = decode(validEvent({ event_time: 8_700_000_000_000_000 }));
    }).not.toThrow();
    expect(result).toMatchObject({ ok: false, detail: expect.stringContaining('event_time') });
    expect(['invalid_value', 'timestamp_out_of_range']).toContain(result?.ok === false ? result.reason : undefined);
  });

  it('quarantines an ISO event_time naming a day the month does not have', () => {
    // 2026 is not a leap year: Date.parse rolls 30 February over to 2 March, which would file the reading under the wrong day.
    expect(decode(validEvent({ event_time: '2026-02-30T00:00:00Z' }), Date.parse('2026-03-02T00:00:00Z'))).toEqual({
      ok: false,
      reason: 'invalid_value',
      detail: expect.stringContaining('event_time'),
    });
  });

  it('accepts a value of exactly maxRecordBytes', () => {
    const base = JSON.stringify(validEvent({ padding: '' }));
    const padded = JSON.stringify(validEvent({ padding: 'x'.repeat(LIMITS.maxRecordBytes - base.length) }));
    expect(encoder.encode(padded).byteLength).toBe(LIMITS.maxRecordBytes);
    expect(decodeRecord(encoder.encode(padded), KAFKA_TIMESTAMP, LIMITS).ok).toBe(true);
  });

  it('accepts event_time exactly at either edge of the accepted window', () => {
    expect(decode(validEvent({ event_time: KAFKA_TIMESTAMP - LIMITS.maxEventAgeMs })).ok).toBe(true);
    expect(decode(validEvent({ event_time: KAFKA_TIMESTAMP + LIMITS.maxEventFutureMs })).ok).toBe(true);
  });

  it('decodes a valid event with event_time as epoch milliseconds', () => {
    expect(decoded(decode(validEvent()))).toEqual({
      device_id: 'dev-00001',
      device_name: 'cold-store sensor 00001',
      site: 'cold-store',
      firmware: '2.4.1',
      event_time: Date.UTC(2026, 0, 31, 11, 59, 30, 250),
      seq: 42,
      temperature_c: 4.25,
      humidity_pct: 51.3,
      battery_pct: 88.1,
      _extra: null,
      status: 'ok',
    });
  });

  it('converts an ISO event_time with a zone offset to the UTC instant', () => {
    expect(decoded(decode(validEvent({ event_time: '2026-01-31T13:59:30+02:00' }))).event_time).toBe(Date.UTC(2026, 0, 31, 11, 59, 30));
    expect(decoded(decode(validEvent({ event_time: '2026-01-31T06:29-05:30' }))).event_time).toBe(Date.UTC(2026, 0, 31, 11, 59));
  });

  it('accepts event_time as an epoch-millisecond number', () => {
    expect(decoded(decode(validEvent({ event_time: KAFKA_TIMESTAMP - 1234 }))).event_time).toBe(KAFKA_TIMESTAMP - 1234);
  });

  it('accepts null or an absent value for the nullable readings', () => {
    const nullable = EVENT_FIELDS.filter((field) => field.nullable).map((field) => field.name);
    expect(nullable).toEqual(['temperature_c', 'humidity_pct', 'battery_pct']);
    for (const name of nullable) {
      expect(decoded(decode(validEvent({ [name]: null })))[name], `${name}: null`).toBeNull();
      expect(decoded(decode(withoutField(name)))[name], `${name} absent`).toBeNull();
    }
  });

  it('keeps fields the declaration does not name in _extra, as the JSON text of an object', () => {
    const event = decoded(decode(validEvent({ rssi_dbm: -71, location: { lat: 1, lon: 2 } })));
    expect(Object.keys(event).sort()).toEqual([...EVENT_FIELDS.map((field) => field.name), '_extra'].sort());
    expect(JSON.parse(event._extra as string)).toEqual({ rssi_dbm: -71, location: { lat: 1, lon: 2 } });
    expect(decoded(decode(validEvent()))._extra).toBeNull();
  });

  it('reports the names of the unknown fields a decoder has seen', () => {
    const decoder = new RecordDecoder(DEVICE_LOGS, LIMITS);
    const row = new Float64Array(decoder.extraIndex + 1);
    for (const extra of [{ rssi_dbm: -71 }, { rssi_dbm: -70, fw_build: 'a1' }, {}]) decoder.decode(json(validEvent(extra)), KAFKA_TIMESTAMP, row);
    expect(decoder.unknownFields()).toEqual(['fw_build', 'rssi_dbm']);
  });

  it('round-trips any valid event', () => {
    const text = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
    // -0 serializes as 0, so compare with the value JSON can carry.
    const reading = fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => (value === 0 ? 0 : value)), { nil: null });
    const readingOrAbsent = fc.oneof(reading, fc.constant(undefined));
    const instant = fc.record({
      kafkaTimestamp: fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2100-01-01T00:00:00Z') }),
      skew: fc.integer({ min: -LIMITS.maxEventAgeMs, max: LIMITS.maxEventFutureMs }),
      form: fc.constantFrom('epoch', 'utc', 'offset'),
      offsetMinutes: fc.integer({ min: -14 * 60, max: 14 * 60 }),
    });
    fc.assert(
      fc.property(
        fc.record({
          device_id: text,
          device_name: text,
          site: text,
          firmware: text,
          seq: fc.maxSafeInteger(),
          temperature_c: readingOrAbsent,
          humidity_pct: readingOrAbsent,
          battery_pct: readingOrAbsent,
          status: fc.constantFrom(...STATUSES),
        }),
        instant,
        (fields, { kafkaTimestamp, skew, form, offsetMinutes }) => {
          const millis = kafkaTimestamp + skew;
          const eventTime = form === 'epoch' ? millis : form === 'utc' ? new Date(millis).toISOString() : isoWithOffset(millis, offsetMinutes);
          const result = decode({ ...fields, event_time: eventTime }, kafkaTimestamp);
          const expected = {
            ...fields,
            event_time: typeof eventTime === 'number' ? eventTime : Date.parse(eventTime),
            temperature_c: fields.temperature_c ?? null,
            humidity_pct: fields.humidity_pct ?? null,
            battery_pct: fields.battery_pct ?? null,
            _extra: null,
          };
          expect(decoded(result)).toEqual(expected);
          expect(expected.event_time).toBe(millis);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decodeEvent timestamps in Date#toISOString form (the fast path)', () => {
  const wide: ValidationLimits = { ...LIMITS, maxEventAgeMs: Number.MAX_SAFE_INTEGER, maxEventFutureMs: Number.MAX_SAFE_INTEGER };

  it('reads any instant from 1970 to 9999 as Date.parse does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (millis) => {
        const iso = new Date(millis).toISOString();
        const result = decodeRecord(json(validEvent({ event_time: iso })), millis, wide);
        expect(decoded(result).event_time).toBe(Date.parse(iso));
      }),
      { numRuns: 2_000 },
    );
  });

  it('judges out-of-range fields as the general path does: impossible days rejected, hour 24 as Date.parse reads it', () => {
    const at = (iso: string) => decodeRecord(json(validEvent({ event_time: iso })), KAFKA_TIMESTAMP, wide);
    for (const iso of ['2026-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T00:60:00.000Z', '2026-01-01T00:00:60.000Z', '2026-01-0xT00:00:00.000Z']) {
      expect(at(iso), iso).toMatchObject({ ok: false, reason: 'invalid_value' });
    }
    expect(decoded(at('2024-02-29T23:59:59.999Z')).event_time).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(decoded(at('1969-12-31T23:59:59.999Z')).event_time).toBe(-1);
    expect(at('2026-01-01T24:00:00.000Z')).toEqual(
      Number.isNaN(Date.parse('2026-01-01T24:00:00.000Z')) ? expect.objectContaining({ ok: false }) : expect.objectContaining({ ok: true }),
    );
  });
});

/** The instant as an ISO-8601 string in the zone `offsetMinutes` east of UTC, e.g. `2026-01-31T13:59:30.250+02:00`. */
function isoWithOffset(millis: number, offsetMinutes: number): string {
  const local = new Date(millis + offsetMinutes * MINUTE_MS).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

describe('RecordDecoder fast path', () => {
  // An escaped first character of the first key sends a record down the general path (JSON.parse) without changing what it says.
  const viaJsonParse = (bytes: Uint8Array) =>
    encoder.encode(new TextDecoder().decode(bytes).replace(/^\{"(.)/, (_, c: string) => `{"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  const variant = (field: string) =>
    fc.oneof(
      { arbitrary: fc.constant(validEvent()[field]), weight: 25 },
      fc.constantFrom(undefined, null, '', 0, -0, 1.5, 2 ** 60, true, 'ok', 'error', 'degraded', '42', { a: 1 }),
      fc.constantFrom('2026-01-31T11:59:30.250Z', '2026-01-31T11:59:30Z', '2026-02-30T11:59:30.250Z', '2026-01-31T24:00:00.000Z', '2026-01-31T11:59:30.250+01:00'),
      fc.integer({ min: KAFKA_TIMESTAMP - 2 * DAY_MS, max: KAFKA_TIMESTAMP + DAY_MS }),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => Number(n.toPrecision(6))),
      fc.string({ maxLength: 10 }),
    );
  const mutatedEvent = fc.record(Object.fromEntries(EVENT_FIELDS.map((field) => [field.name, variant(field.name)])), { requiredKeys: [] });

  it('reaches the same verdict and the same event as JSON.parse for any record, valid or not', () => {
    fc.assert(
      fc.property(mutatedEvent, (event) => {
        const bytes = json(event);
        expect(decodeRecord(bytes, KAFKA_TIMESTAMP, LIMITS)).toEqual(decodeRecord(viaJsonParse(bytes), KAFKA_TIMESTAMP, LIMITS));
      }),
      { numRuns: 3_000 },
    );
  });

  it('keeps one dictionary id per distinct string, whichever path read it', () => {
    const decoder = new RecordDecoder(DEVICE_LOGS, LIMITS);
    const row = new Float64Array(decoder.extraIndex + 1);
    const idsOf = (bytes: Uint8Array) => {
      expect(decoder.decode(bytes, KAFKA_TIMESTAMP, row)).toBeUndefined();
      return EVENT_FIELDS.flatMap((field, i) => (field.type === 'string' ? [row[i]] : []));
    };
    const fast = idsOf(json(validEvent()));
    expect(idsOf(viaJsonParse(json(validEvent())))).toEqual(fast);
    expect(idsOf(json(validEvent({ device_id: 'dev-00002' })))[0]).not.toBe(fast[0]);
    expect(decoder.dictionaries[0]!.values).toEqual(['dev-00001', 'dev-00002']);
  });
});
