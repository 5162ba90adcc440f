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
