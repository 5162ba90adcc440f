import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ABSENT, FlatJsonScanner, hashBytes, NULL } from '../../../lambdas/core/flat-json.ts';
import { DeviceFleet } from '../../../lambdas/demo/device-fleet.ts';
import { DEFAULTS } from '../../../lib/config.ts';

const FIELDS = [
  { name: 'device_id', kind: 'string', hashed: true },
  { name: 'seq', kind: 'number' },
  { name: 'temperature_c', kind: 'number' },
  { name: 'status', kind: 'string', hashed: true },
  { name: 'event_time', kind: 'string', hashed: false },
] as const;
const NAMES = FIELDS.map((field) => field.name);
const scanner = new FlatJsonScanner(FIELDS);
const encoder = new TextEncoder();

/** What JSON.parse makes of the bytes, as the scanner reports it: the named fields' values, or undefined if not an object. */
function parsedFields(bytes: Uint8Array): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return NAMES.map((name) => (Object.hasOwn(parsed, name) ? (parsed as Record<string, unknown>)[name] : undefined));
}

/** What the scanner reported for field `i`: undefined when absent, null, the number, or the string its bytes spell. */
function scannedField(bytes: Uint8Array, i: number): unknown {
  const { state, numbers, starts, ends, hashes } = scanner.values;
  if (state[i] === ABSENT) return undefined;
  if (state[i] === NULL) return null;
  if (FIELDS[i]!.kind === 'number') return numbers[i];
  if ('hashed' in FIELDS[i]! && FIELDS[i].hashed) expect(hashes[i]).toBe(hashBytes(bytes, starts[i]!, ends[i]!));
  return Buffer.from(bytes.subarray(starts[i]!, ends[i]!)).toString('latin1');
}

/** The fast path's contract: when it accepts bytes, it reports exactly what JSON.parse would (signed zero included), each named value of its field's kind. */
function agreesWithJsonParse(bytes: Uint8Array): boolean {
  if (!scanner.scan(bytes)) return false;
  const expected = parsedFields(bytes);
  const text = new TextDecoder().decode(bytes);
  expect(expected, text).toBeDefined();
  FIELDS.forEach((field, i) => {
    const value = expected![i];
    expect(value === undefined || value === null || typeof value === FIELDS[i]!.kind, `${field.name} in ${text}`).toBe(true);
    expect(Object.is(scannedField(bytes, i), value), `${field.name} in ${text}`).toBe(true);
  });
  return true;
}

const key = fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 12 }), fc.constant('__proto__'));
const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1e15, max: 1e15 }),
  fc.integer({ min: -100_000, max: 100_000 }).map((n) => n / 100),
  fc.constantFrom(true, false, null, 0, -0, 1e21, 123456789012345, 1234567890123456, 0.1, -0.000001),
);
const flatObject = fc.array(fc.tuple(key, fc.oneof(scalar, fc.jsonValue({ maxDepth: 2 }))), { maxLength: 8 });

function render(entries: [string, unknown][], spaced: boolean): string {
  const members = entries.map(([k, v]) => `${JSON.stringify(k)}${spaced ? ' : ' : ':'}${JSON.stringify(v) ?? 'null'}`);
  return spaced ? `\n{ ${members.join(' ,\n\t')} }\r\n` : `{${members.join(',')}}`;
}

describe('FlatJsonScanner', () => {
  it('reports exactly what JSON.parse does for any object it accepts, repeated keys and whitespace included', () => {
    fc.assert(fc.property(flatObject, fc.boolean(), (entries, spaced) => void agreesWithJsonParse(encoder.encode(render(entries, spaced)))), { numRuns: 2_000 });
  });

  it('never accepts bytes JSON.parse rejects or reads differently: truncated, corrupted or arbitrary input', () => {
    const mutated = fc.tuple(flatObject, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([entries, at, byte, truncate]) => {
      const bytes = encoder.encode(render(entries, false));
      if (bytes.length === 0) return bytes;
      if (truncate) return bytes.subarray(0, at % bytes.length);
      bytes[at % bytes.length] = byte;
      return bytes;
    });
    fc.assert(fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 40 }), fc.json().map((text) => encoder.encode(text))), (bytes) => void agreesWithJsonParse(bytes)), { numRuns: 3_000 });
  });

  it('reads every double of up to 15 digits exactly as JSON.parse rounds it', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 15 }), (double, digits) => {
        const text = `{"temperature_c":${Number(double.toPrecision(Math.max(1, digits)))}}`;
        agreesWithJsonParse(encoder.encode(text));
      }),
      { numRuns: 3_000 },
    );
  });

  it('takes the fast path for every record the generator produces', () => {
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: 20, corruptShare: 0 });
    const records = [0, 1].flatMap((m) => fleet.recordsForMinute(m * 60_000, (m + 1) * 60_000));
    for (const record of records) expect(agreesWithJsonParse(record.value), new TextDecoder().decode(record.value)).toBe(true);
  });

  it('leaves escapes, non-ASCII text, exponents, long numbers, nested values and values of another kind to JSON.parse', () => {
    const general = ['{"device_id":"a\\"b"}', '{"device_id":"Gerät"}', '{"seq":1e3}', '{"seq":1234567890123456}', '{"status":{"a":1}}', '{"x":[1]}', '[1]', '"x"', '{"seq":01}', '{"seq":1.}', '{"seq":-}'];
    const otherKind = ['{"seq":"1"}', '{"device_id":1}', '{"device_id":true}', '{"temperature_c":false}'];
    for (const text of [...general, ...otherKind]) expect(scanner.scan(encoder.encode(text)), text).toBe(false);
    expect(scanner.scan(encoder.encode('{"other":true,"more":false,"seq":null}'))).toBe(true);
  });
});
