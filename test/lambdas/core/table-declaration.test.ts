import { describe, expect, it } from 'vitest';
import { duckdbType, glueType, trinoType } from '../../../lambdas/core/schema.ts';
import { parseTableDeclaration, TableDeclarationError, tableColumns } from '../../../lambdas/core/table-declaration.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';
import { decodeRecord } from '../../helpers/decode.ts';

const LIMITS = { maxRecordBytes: 65_536, maxEventAgeMs: 86_400_000, maxEventFutureMs: 900_000 };
const NOW = Date.parse('2026-01-31T12:00:00Z');

function declaration(properties: Record<string, unknown>, options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'object',
    'x-streamlake': { table: 'orders', topic: 'orders', eventTime: 'placed_at', ...options },
    properties: { placed_at: { type: 'string', format: 'date-time' }, ...properties },
    required: ['placed_at'],
    ...extra,
  };
}

const parse = (value: unknown) => parseTableDeclaration(value, 'tables/orders.schema.json');

describe('the shipped device_logs declaration', () => {
  it('describes the table the pipeline always wrote: same columns, types and nullability, then _extra and the lineage', () => {
    expect(tableColumns(DEVICE_LOGS).map((c) => `${c.name} ${c.type}${c.nullable ? '' : ' not null'}`)).toEqual([
      'device_id string not null', 'device_name string not null', 'site string not null', 'firmware string not null',
      'event_time timestamp not null', 'seq bigint not null', 'temperature_c double', 'humidity_pct double', 'battery_pct double',
      'status string not null', '_extra string', 'kafka_partition int not null', 'kafka_offset bigint not null', 'kafka_timestamp timestamp not null',
    ]);
    expect(DEVICE_LOGS).toMatchObject({ name: 'device_logs', topic: 'device-logs', key: 'device_id', eventTime: 'event_time', partitionBy: 'hour' });
    expect(DEVICE_LOGS.fields.find((f) => f.name === 'status')!.allowed).toEqual(['ok', 'warning', 'error']);
  });

  it('keeps the fingerprint it had before nested and decimal fields existed, so a run claimed before an upgrade is finished after it', () => {
    expect(DEVICE_LOGS.fingerprint).toBe('9c4f8cc732c0fc52');
  });
});

describe('parseTableDeclaration', () => {
  it('maps JSON Schema types to columns: int when the declared range fits 32 bits, bigint otherwise', () => {
    const table = parse(declaration({
      small: { type: 'integer', minimum: 0, maximum: 1000 },
      large: { type: 'integer', minimum: 0 },
      amount: { type: 'number' },
      note: { type: ['string', 'null'] },
      kind: { type: 'string', enum: ['a', 'b'] },
    }, {}, { required: ['placed_at', 'small', 'large', 'amount', 'note', 'kind'] }));
    expect(table.fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['placed_at', 'timestamp', false], ['small', 'int', false], ['large', 'bigint', false], ['amount', 'double', false], ['note', 'string', true], ['kind', 'string', false],
    ]);
    expect(table.partitionBy).toBe('hour');
  });

  it('makes a field that is not required nullable', () => {
    expect(parse(declaration({ amount: { type: 'number' } })).fields[1]).toMatchObject({ name: 'amount', nullable: true });
  });

  it('reads an event time declared as epoch seconds into milliseconds', () => {
    const table = parse({ ...declaration({}), properties: { placed_at: { type: 'integer', 'x-streamlake-type': 'epoch-seconds' } } });
    const result = decodeRecord(new TextEncoder().encode(JSON.stringify({ placed_at: NOW / 1000 - 60 })), NOW, LIMITS, table);
    expect(result).toEqual({ ok: true, event: { placed_at: NOW - 60_000, _extra: null } });
  });

  it('checks integer ranges and string lengths it declares', () => {
    const table = parse(declaration({ qty: { type: 'integer', minimum: 1, maximum: 10 }, sku: { type: 'string', minLength: 3 } }));
    const decode = (record: object) => decodeRecord(new TextEncoder().encode(JSON.stringify({ placed_at: '2026-01-31T11:00:00Z', ...record })), NOW, LIMITS, table);
    expect(decode({ qty: 11 })).toMatchObject({ ok: false, reason: 'invalid_value', detail: expect.stringMatching(/qty must be within \[1, 10\]/) });
    expect(decode({ sku: 'ab' })).toMatchObject({ ok: false, reason: 'invalid_value', detail: expect.stringMatching(/sku must be at least 3 characters/) });
    expect(decode({ qty: 10, sku: 'abc' })).toMatchObject({ ok: true });
  });

  it.each([
    [{ ...declaration({}), 'x-streamlake': { table: 'order-lines', topic: 'o', eventTime: 'placed_at' } }, /x-streamlake\.table" must be a name of lowercase letters/],
    [{ ...declaration({}), 'x-streamlake': { topic: 'o', eventTime: 'placed_at' } }, /x-streamlake\.table/],
    [declaration({}, { eventTime: 'missing' }), /eventTime" must name a field/],
    [declaration({ amount: { type: 'number' } }, { eventTime: 'amount' }), /field amount must be a date-time/],
    [declaration({ id: { type: 'integer' } }, { key: 'id' }), /key" field id must be a required string/],
    [declaration({}, { partitionBy: 'minute' }), /partitionBy" must be "hour" or "day"/],
    [declaration({}, { compaction: 'fast' }), /x-streamlake\.compaction" is not a setting/],
    [declaration({ shape: { oneOf: [{ type: 'string' }, { type: 'number' }] } }), /field shape: keyword "oneOf" is not supported: declare one type per field/],
    [declaration({ address: { $ref: 'address.json' } }), /field address: keyword "\$ref" is not supported: write the field inline/],
    [declaration({ pair: { type: 'array', prefixItems: [{ type: 'string' }] } }), /field pair: keyword "prefixItems" is not supported/],
    [declaration({ kafka_offset: { type: 'integer' } }), /field kafka_offset: kafka_offset is a column the pipeline adds/],
    [declaration({ Total: { type: 'number' }, total: { type: 'number' } }), /field total: differs from field Total only in case/],
    [declaration({ flag: { type: 'null' } }), /field flag: "type" must be one of/],
    [declaration({}, {}, { additionalProperties: false }), /additionalProperties" can only be true/],
    [declaration({ when: { type: 'string', format: 'email' } }), /field when: format "email" is not supported/],
  ])('refuses what it cannot honour, naming the file and the field (%#)', (value, message) => {
    expect(() => parse(value)).toThrow(TableDeclarationError);
    expect(() => parse(value)).toThrow(message);
    expect(() => parse(value)).toThrow(/^tables\/orders\.schema\.json: /);
  });

  it('changes its fingerprint with anything that decides a verdict, not with descriptions', () => {
    const base = parse(declaration({ amount: { type: 'number' } }));
    expect(parse(declaration({ amount: { type: 'number', description: 'in euros' } })).fingerprint).toBe(base.fingerprint);
    expect(parse(declaration({ amount: { type: 'integer' } })).fingerprint).not.toBe(base.fingerprint);
    expect(parse(declaration({ amount: { type: 'number' } }, {}, { required: ['placed_at', 'amount'] })).fingerprint).not.toBe(base.fingerprint);
  });
});

describe('parseTableDeclaration with nested and decimal fields', () => {
  const ADDRESS = {
    type: 'object',
    properties: { city: { type: 'string', minLength: 1 }, zip: { type: 'string' }, location: { type: 'object', properties: { lat: { type: 'number' }, lon: { type: 'number' } }, required: ['lat', 'lon'] } },
    required: ['city'],
  };
  const ITEM = { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1, maximum: 99 }, price: { type: 'string', 'x-streamlake-type': 'decimal(9,2)' } }, required: ['sku'] };
  const table = parse(declaration({
    address: ADDRESS,
    items: { type: 'array', items: ITEM },
    tags: { type: 'array', items: { type: ['string', 'null'] } },
    attributes: { type: 'object', additionalProperties: { type: 'integer' } },
    total: { type: 'number', 'x-streamlake-type': 'decimal(19,2)' },
    rate: { type: ['number', 'string', 'null'], 'x-streamlake-type': 'decimal(38, 18)' },
  }, {}, { required: ['placed_at', 'items', 'total'] }));
  const field = (name: string) => table.fields.find((f) => f.name === name)!;

  it('makes an object with properties a struct whose own "required" decides which of its fields are nullable', () => {
    expect(field('address')).toMatchObject({ type: 'struct', nullable: true });
    expect(field('address').fields!.map((f) => [f.name, f.type, f.nullable])).toEqual([['city', 'string', false], ['zip', 'string', true], ['location', 'struct', true]]);
    expect(field('address').fields![2]!.fields!.map((f) => [f.name, f.nullable])).toEqual([['lat', false], ['lon', false]]);
    expect(field('address').fields![0]).toMatchObject({ minLength: 1 });
  });

  it('makes an array an array of its items, nullable only when the items type admits null', () => {
    expect(field('items')).toMatchObject({ type: 'array', nullable: false, items: { name: 'element', type: 'struct', nullable: false } });
    expect(field('items').items!.fields!.map((f) => [f.name, f.type, f.nullable])).toEqual([['sku', 'string', false], ['qty', 'int', true], ['price', 'decimal', true]]);
    expect(field('tags')).toMatchObject({ type: 'array', items: { type: 'string', nullable: true } });
  });

  it('makes an object with only additionalProperties a map from string keys to the declared values', () => {
    expect(field('attributes')).toMatchObject({ type: 'map', values: { name: 'value', type: 'bigint', nullable: false } });
  });

  it('reads "x-streamlake-type": "decimal(P,S)" on a number, a string or both as an exact decimal', () => {
    expect(field('total')).toMatchObject({ type: 'decimal', precision: 19, scale: 2, decimalInput: 'number', nullable: false });
    expect(field('rate')).toMatchObject({ type: 'decimal', precision: 38, scale: 18, decimalInput: 'number-or-string', nullable: true });
    expect(field('items').items!.fields![2]).toMatchObject({ precision: 9, scale: 2, decimalInput: 'string' });
  });

  it('gives each nested or decimal column its Glue, DuckDB and Trino type', () => {
    const types = (name: string) => [glueType(field(name)), duckdbType(field(name)), trinoType(field(name))];
    expect(types('address')).toEqual([
      'struct<city:string,zip:string,location:struct<lat:double,lon:double>>',
      'STRUCT("city" VARCHAR, "zip" VARCHAR, "location" STRUCT("lat" DOUBLE, "lon" DOUBLE))',
      'row(city varchar, zip varchar, location row(lat double, lon double))',
    ]);
    expect(types('items')).toEqual([
      'array<struct<sku:string,qty:int,price:decimal(9,2)>>',
      'STRUCT("sku" VARCHAR, "qty" INTEGER, "price" DECIMAL(9,2))[]',
      'array(row(sku varchar, qty integer, price decimal(9,2)))',
    ]);
    expect(types('tags')).toEqual(['array<string>', 'VARCHAR[]', 'array(varchar)']);
    expect(types('attributes')).toEqual(['map<string,bigint>', 'MAP(VARCHAR, BIGINT)', 'map(varchar, bigint)']);
    expect(types('total')).toEqual(['decimal(19,2)', 'DECIMAL(19,2)', 'decimal(19,2)']);
    const mixedCase = parse(declaration({ address: { type: 'object', properties: { ZipCode: { type: 'string' } } } })).fields[1]!;
    expect([glueType(mixedCase), trinoType(mixedCase)]).toEqual(['struct<ZipCode:string>', 'row(zipcode varchar)']);
  });

  it('refuses a nested or decimal column spec without its details', () => {
    expect([glueType({ type: 'int' }), duckdbType({ type: 'timestamp' }), trinoType({ type: 'timestamp' })]).toEqual(['int', 'TIMESTAMP', 'timestamp(3)']);
    expect(() => glueType({ type: 'struct' })).toThrow('glueType: a struct column needs its fields');
  });

  it('changes its fingerprint with the nested and decimal details that decide a verdict', () => {
    const withAddress = (address: Record<string, unknown>) => parse(declaration({ address })).fingerprint;
    const base = withAddress(ADDRESS);
    expect(withAddress({ ...ADDRESS, required: [] })).not.toBe(base);
    expect(withAddress({ ...ADDRESS, properties: { ...ADDRESS.properties, zip: { type: 'integer' } } })).not.toBe(base);
    const withTotal = (type: string) => parse(declaration({ total: { type: 'number', 'x-streamlake-type': type } })).fingerprint;
    expect(withTotal('decimal(19,2)')).not.toBe(withTotal('decimal(20,2)'));
  });

  it.each([
    [{ address: { type: 'object', properties: { city: { oneOf: [{ type: 'string' }] } } } }, /field address\.city: keyword "oneOf" is not supported: declare one type per field/],
    [{ items: { type: 'array', items: { type: 'object', properties: { sku: { $ref: '#/$defs/sku' } } } } }, /field items\[\*\]\.sku: keyword "\$ref" is not supported: write the field inline/],
    [{ pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] } }, /field pair: keyword "prefixItems" is not supported: declare an array of one item type/],
    [{ pair: { type: 'array', items: [{ type: 'string' }, { type: 'number' }] } }, /field pair: "items" is a list: declare an array of one item type/],
    [{ tags: { type: 'array' } }, /field tags: "items" must declare the type of every item/],
    [{ address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: { type: 'string' } } }, /field address: declares both "properties" and "additionalProperties"/],
    [{ address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } }, /field address: "additionalProperties" can only be true .* kept in the _extra column/],
    [{ payload: { type: 'object' } }, /field payload: an object field declares "properties" \(a struct\) or "additionalProperties" .* leave it out of "properties" and it is kept in _extra/],
    [{ address: { type: 'object', properties: {} } }, /field address: "properties" must name at least one field/],
    [{ address: { type: 'object', properties: { City: { type: 'string' }, city: { type: 'string' } } } }, /field address\.city: differs from field City only in case/],
    [{ address: { type: 'object', properties: { city: { type: 'string' } }, required: ['zip'] } }, /field address: "required" names zip, which is not in "properties"/],
    [{ attributes: { type: 'object', additionalProperties: { type: 'object', properties: { n: { anyOf: [] } } } } }, /field attributes\[\*\]\.n: keyword "anyOf" is not supported/],
    [{ total: { type: 'number', 'x-streamlake-type': 'decimal(40,2)' } }, /field total: "x-streamlake-type" decimal\(40,2\) is out of range: the precision is 1 to 38/],
    [{ total: { type: 'number', 'x-streamlake-type': 'decimal(4,5)' } }, /field total: .* and the scale 0 to the precision/],
    [{ total: { type: 'integer', 'x-streamlake-type': 'decimal(10,2)' } }, /field total: "x-streamlake-type" decimal\(10,2\) applies to a number or string field/],
    [{ total: { type: 'number', 'x-streamlake-type': 'decimal(10,2)', minimum: 0 } }, /field total: keyword "minimum" is not supported on decimal fields/],
    [{ total: { type: 'number', 'x-streamlake-type': 'money' } }, /field total: "x-streamlake-type" "money" is not supported here; .* "decimal\(P,S\)" on a number or string field/],
    [{ tags: { type: 'array', items: { type: 'string' }, minItems: 1 } }, /field tags: keyword "minItems" is not supported on array fields/],
  ])('refuses what it cannot honour inside nested fields, naming the file, the field path and what to use instead (%#)', (properties, message) => {
    expect(() => parse(declaration(properties))).toThrow(TableDeclarationError);
    expect(() => parse(declaration(properties))).toThrow(message);
    expect(() => parse(declaration(properties))).toThrow(/^tables\/orders\.schema\.json: field /);
  });

  it('keeps the event time and the key at the top level', () => {
    expect(() => parse(declaration({ meta: ADDRESS }, { eventTime: 'meta.city' }))).toThrow(/"x-streamlake.eventTime" must name a field of "properties"/);
  });
});
