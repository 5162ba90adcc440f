import { describe, expect, it } from 'vitest';
import { parseTableDeclaration, type TableSpec } from '../../../lambdas/core/table-declaration.ts';
import { EMPTY_LOCK, evolutionProblems, lockOf } from '../../../lambdas/core/table-evolution.ts';

type Properties = Record<string, Record<string, unknown>>;

function table(properties: Properties, required: string[] = [], options: Record<string, unknown> = {}): TableSpec {
  return parseTableDeclaration(
    {
      type: 'object',
      'x-streamlake': { table: 'orders', topic: 'orders', key: 'id', eventTime: 'placed_at', ...options },
      properties: { id: { type: 'string' }, placed_at: { type: 'string', format: 'date-time' }, ...properties },
      required: ['id', 'placed_at', ...required],
    },
    'orders.schema.json',
  );
}

const V1: Properties = {
  status: { type: 'string', enum: ['new', 'paid'] },
  qty: { type: 'integer', minimum: 0, maximum: 1000 },
  total: { type: 'number' },
};
const deployed = lockOf([table(V1, ['status'])]);
const problemsOf = (next: TableSpec) => evolutionProblems(deployed, [next]);

describe('evolutionProblems', () => {
  it('accepts a table that is not deployed yet, and an unchanged one', () => {
    expect(evolutionProblems(EMPTY_LOCK, [table(V1)])).toEqual([]);
    expect(problemsOf(table(V1, ['status']))).toEqual([]);
  });

  it('allows adding an optional field, making a required field optional, adding enum values, widening int to bigint and loosening bounds', () => {
    const v2 = table({
      ...V1,
      status: { type: 'string', enum: ['new', 'paid', 'refunded'] },
      qty: { type: 'integer', minimum: 0 },
      coupon: { type: 'string' },
    });
    expect(v2.fields.find((f) => f.name === 'qty')!.type).toBe('bigint');
    expect(problemsOf(v2)).toEqual([]);
  });

  it.each([
    ['removing a field', table({ status: V1.status!, qty: V1.qty! }, ['status']), /field total was removed or renamed.*keep it \(make it optional\)/],
    ['narrowing a type', table({ ...V1, total: { type: 'integer' } }, ['status']), /field total changed type from double to bigint.*add a new field/],
    ['making an optional field required', table(V1, ['status', 'total']), /field total became required/],
    ['removing an enum value', table({ ...V1, status: { type: 'string', enum: ['new'] } }, ['status']), /field status no longer accepts "paid"; enum values can be added, never removed/],
    ['tightening a bound', table({ ...V1, qty: { type: 'integer', minimum: 1, maximum: 1000 } }, ['status']), /field qty raised its minimum to 1/],
    ['adding a required field', table({ ...V1, coupon: { type: 'string' } }, ['status', 'coupon']), /new field coupon is required.*add it as optional/],
    ['changing the event time', table({ ...V1, paid_at: { type: 'string', format: 'date-time' } }, ['status', 'paid_at'], { eventTime: 'paid_at' }), /x-streamlake\.eventTime changed from "placed_at" to "paid_at".*declare a new table/],
    ['changing the partitioning', table(V1, ['status'], { partitionBy: 'day' }), /x-streamlake\.partitionBy changed/],
    ['changing the topic', table(V1, ['status'], { topic: 'orders-v2' }), /x-streamlake\.topic changed/],
    ['changing the table format', table(V1, ['status'], { format: 'iceberg' }), /x-streamlake\.format changed from "hive-parquet" to "iceberg".*declare a new table/],
  ])('refuses %s, naming the table, the field and the way out', (_, next, message) => {
    const problems = problemsOf(next);
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(/^table orders: /);
    expect(problems.some((problem) => message.test(problem)), problems.join('\n')).toBe(true);
  });

  it('refuses dropping a deployed table', () => {
    expect(evolutionProblems(deployed, [])).toEqual([expect.stringMatching(/table orders is deployed but no longer declared/)]);
  });
});

describe('evolutionProblems with nested and decimal fields', () => {
  const ADDRESS = { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } }, required: ['city'] };
  const ITEM = { type: 'object', properties: { sku: { type: 'string' }, price: { type: 'string', 'x-streamlake-type': 'decimal(9,2)' } }, required: ['sku'] };
  const NESTED: Properties = {
    address: ADDRESS,
    items: { type: 'array', items: ITEM },
    attributes: { type: 'object', additionalProperties: { type: 'string' } },
    total: { type: 'number', 'x-streamlake-type': 'decimal(10,2)' },
  };
  const lock = lockOf([table(NESTED)]);
  const problemsOf = (properties: Properties) => evolutionProblems(lock, [table(properties)]);
  const withAddress = (address: Record<string, unknown>) => ({ ...NESTED, address });
  const withItem = (item: Record<string, unknown>) => ({ ...NESTED, items: { type: 'array', items: item } });

  it('records nested fields and decimals in the lock, and leaves the lock of a flat table as it was', () => {
    expect(lock.tables.orders!.fields.find((f) => f.name === 'address')).toEqual({
      name: 'address', type: 'struct', nullable: true,
      fields: [{ name: 'city', type: 'string', nullable: false }, { name: 'zip', type: 'string', nullable: true }],
    });
    expect(lock.tables.orders!.fields.find((f) => f.name === 'total')).toEqual({ name: 'total', type: 'decimal', nullable: true, precision: 10, scale: 2, decimalInput: 'number' });
    expect(Object.keys(deployed.tables.orders!.fields.find((f) => f.name === 'qty')!)).toEqual(['name', 'type', 'nullable', 'minimum', 'maximum']);
  });

  it('allows adding an optional field inside a struct or an array of structs, raising a decimal\'s precision at the same scale, and taking a decimal as a string too', () => {
    expect(problemsOf({
      ...withItem({ ...ITEM, properties: { ...ITEM.properties, price: { type: 'string', 'x-streamlake-type': 'decimal(12,2)' }, color: { type: 'string' } } }),
      address: { ...ADDRESS, properties: { ...ADDRESS.properties, country: { type: 'string' }, location: { type: 'object', properties: { lat: { type: 'number' } }, required: ['lat'] } } },
      total: { type: ['number', 'string'], 'x-streamlake-type': 'decimal(20,2)' },
    })).toEqual([]);
  });

  it.each([
    ['removing a field inside a struct', withAddress({ ...ADDRESS, properties: { city: { type: 'string' } } }), /field address\.zip was removed or renamed, which would hide its values/],
    ['adding a required field inside a struct', withAddress({ ...ADDRESS, properties: { ...ADDRESS.properties, country: { type: 'string' } }, required: ['city', 'country'] }), /new field address\.country is required/],
    ['making a field inside an array of structs required', withItem({ ...ITEM, required: ['sku', 'price'] }), /field items\[\*\]\.price became required/],
    ['changing a decimal\'s scale', { ...NESTED, total: { type: 'number', 'x-streamlake-type': 'decimal(11,3)' } }, /field total changed scale from decimal\(10,2\) to decimal\(11,3\).*keep the scale \(raise the precision\), or add a new field/],
    ['lowering a decimal\'s precision', withItem({ ...ITEM, properties: { ...ITEM.properties, price: { type: 'string', 'x-streamlake-type': 'decimal(8,2)' } } }), /field items\[\*\]\.price narrowed from decimal\(9,2\) to decimal\(8,2\)/],
    ['taking a decimal only as a string where it was a number', { ...NESTED, total: { type: 'string', 'x-streamlake-type': 'decimal(10,2)' } }, /field total changed how its decimals are written from number to string/],
    ['turning a struct into a string', { ...NESTED, address: { type: 'string' } }, /field address changed type from struct to string/],
    ['turning a decimal into a double', { ...NESTED, total: { type: 'number' } }, /field total changed type from decimal to double/],
    ['changing the type of a map\'s values', { ...NESTED, attributes: { type: 'object', additionalProperties: { type: 'integer' } } }, /field attributes\[\*\] changed type from string to bigint/],
  ])('refuses %s, naming the field by its path', (_, next, message) => {
    const problems = problemsOf(next);
    expect(problems.some((problem) => message.test(problem)), problems.join('\n')).toBe(true);
    for (const problem of problems) expect(problem).toMatch(/^table orders: /);
  });
});
