import { describe, expect, it } from 'vitest';
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
