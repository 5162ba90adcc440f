import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIGINT, BOOLEAN, DATE, DECIMAL, DOUBLE, DuckDBVarCharType, LIST, MAP, SQLNULL, STRUCT, TIMESTAMP, TIMESTAMPTZ, VARCHAR } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parseTableDeclaration } from '../../../lambdas/core/table-declaration.ts';
import { compactLocal } from '../../../src/local/runner.ts';
import { inferDeclaration, jsonSchemaOf, SchemaInferenceError } from '../../../src/local/schema-inference.ts';
import { streamlake } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/lake.ts';
import { LocalLake } from '../../../src/local/local-lake.ts';

const HOUR_MS = 3_600_000;
// Recent, so that the compactor takes the records' event times against the time they are produced.
const NOW = Math.floor(Date.now() / 1000) * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

const SAMPLE = [
  { order_id: 'o-1', placed_at: iso(NOW - 2 * HOUR_MS).replace('.000Z', 'Z'), delivery: '2026-03-04', qty: 2, total: 19.5, gift: true, note: null, 'bad-name': 1, mixed: 1 },
  { order_id: 'o-2', placed_at: iso(NOW - HOUR_MS + 250), delivery: '2026-03-05', qty: 3, total: 20, gift: false, note: 'ring twice', mixed: 'x', coupon: 'SPRING' },
  { order_id: 'o-3', placed_at: iso(NOW).replace('Z', '+00:00'), delivery: '2026-03-06', qty: 1, total: 7.25, gift: false, note: 'leave at door', local_time: '2026-03-01 11:00:00' },
];

describe('streamlake schema infer', () => {
  const dir = tempDir();
  const write = (name: string, lines: readonly string[]) => {
    const file = join(dir.path, name);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };
  const sample = write('orders.ndjson', SAMPLE.map((record) => JSON.stringify(record)));
  afterAll(() => dir.remove());

  it("maps DuckDB's detected types to JSON Schema, nested types included", () => {
    expect(jsonSchemaOf(VARCHAR)).toEqual({ type: 'string' });
    expect(jsonSchemaOf(BIGINT)).toEqual({ type: 'integer' });
    expect(jsonSchemaOf(DOUBLE)).toEqual({ type: 'number' });
    expect(jsonSchemaOf(DECIMAL(18, 3))).toEqual({ type: 'number' });
    expect(jsonSchemaOf(BOOLEAN)).toEqual({ type: 'boolean' });
    expect(jsonSchemaOf(DATE)).toEqual({ type: 'string', format: 'date' });
    expect(jsonSchemaOf(TIMESTAMP)).toEqual({ type: 'string', format: 'date-time' });
    expect(jsonSchemaOf(TIMESTAMPTZ)).toEqual({ type: 'string', format: 'date-time' });
    expect(jsonSchemaOf(STRUCT({ city: VARCHAR, geo: STRUCT({ lat: DOUBLE }), unknown: new DuckDBVarCharType('JSON') }))).toEqual({
      type: 'object',
      properties: { city: { type: 'string' }, geo: { type: 'object', properties: { lat: { type: 'number' } } } },
    });
    expect(jsonSchemaOf(LIST(STRUCT({ sku: VARCHAR, n: BIGINT })))).toEqual({ type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, n: { type: 'integer' } } } });
    expect(jsonSchemaOf(MAP(VARCHAR, DOUBLE))).toEqual({ type: 'object', additionalProperties: { type: 'number' } });
    expect(jsonSchemaOf(new DuckDBVarCharType('JSON'))).toBeUndefined();
    expect(jsonSchemaOf(LIST(SQLNULL))).toBeUndefined();
  });

  it('declares the fields of a sample: required when in every record, nullable when null in one, the first instant as event time', async () => {
    const { declaration, notes } = await inferDeclaration({ file: sample, table: 'orders', topic: 'shop.orders', key: 'order_id' });
    expect(declaration).toMatchObject({
      'x-streamlake': { table: 'orders', topic: 'shop.orders', key: 'order_id', eventTime: 'placed_at', partitionBy: 'hour' },
      properties: {
        order_id: { type: 'string' },
        placed_at: { type: 'string', format: 'date-time' },
        delivery: { type: 'string', format: 'date' },
        qty: { type: 'integer' },
        total: { type: 'number' },
        gift: { type: 'boolean' },
        note: { type: ['string', 'null'] },
        coupon: { type: 'string' },
        local_time: { type: 'string' },
      },
      required: ['order_id', 'placed_at', 'delivery', 'qty', 'total', 'gift', 'note'],
    });
    expect(Object.keys(declaration.properties as object)).not.toContain('bad-name');
    expect(Object.keys(declaration.properties as object)).not.toContain('mixed');
    expect(notes).toEqual([
      'field bad-name is left out (its values land in _extra): a field name is letters, digits and _, not starting with a digit',
      'field mixed is left out (its values land in _extra): it holds several kinds of values in the sample (UBIGINT, VARCHAR)',
      'field local_time holds date-times without a zone (or without the T), which the pipeline does not take as timestamps: declared as a string',
      'event time: placed_at, the first field that is a date-time in every record; pass --event-time to choose another',
    ]);
  });

  it('infers a declaration that loads, under which the sample compacts without a record in quarantine', async () => {
    const { declaration } = await inferDeclaration({ file: sample, table: 'orders', topic: 'shop.orders', key: 'order_id', partitionBy: 'day' });
    const table = parseTableDeclaration(JSON.parse(JSON.stringify(declaration)), 'orders.schema.json');
    const log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: table.topic, partitions: 2 });
    try {
      await log.produce(SAMPLE.map((record) => ({ key: record.order_id, value: new TextEncoder().encode(JSON.stringify(record)), timestamp: NOW })));
      const report = await compactLocal(table, log, new LocalLake(join(dir.path, 'lake')), NOW, 'snappy');
      expect(report).toMatchObject({ rowsWritten: SAMPLE.length, quarantined: 0, unknownFields: ['bad-name', 'mixed'] });
    } finally {
      await log.close();
    }
  });

  it('takes integer event times as epoch seconds or milliseconds by their size, and says which', async () => {
    const seconds = write('seconds.ndjson', [JSON.stringify({ id: 'a', at: NOW / 1000 }), JSON.stringify({ id: 'b', at: NOW / 1000 + 60 })]);
    const millis = write('millis.ndjson', [JSON.stringify({ id: 'a', at: NOW })]);
    const bySeconds = await inferDeclaration({ file: seconds, table: 't', topic: 't', eventTime: 'at' });
    expect((bySeconds.declaration.properties as Record<string, unknown>).at).toEqual({ type: 'integer', 'x-streamlake-type': 'epoch-seconds' });
    expect(bySeconds.notes).toContain(`event time: at, integers read as epoch seconds (the largest is ${NOW / 1000 + 60}); change "x-streamlake-type" if that is wrong`);
    const byMillis = await inferDeclaration({ file: millis, table: 't', topic: 't', eventTime: 'at' });
    expect((byMillis.declaration.properties as Record<string, unknown>).at).toEqual({ type: 'integer', 'x-streamlake-type': 'epoch-millis' });
  });

  it.each([
    { lines: ['{"id":"a","at":"2026-03-01 10:00:00"}'], options: {}, says: 'no field of .* reads as a date-time with a zone in every record; pass --event-time FIELD' },
    { lines: ['{"id":"a","at":"2026-03-01T10:00:00Z"}', '{"id":"b"}'], options: { eventTime: 'at' }, says: '--event-time at must be a field present and not null in every record' },
    { lines: ['{"id":"a","at":"2026-03-01T10:00:00Z"}'], options: { eventTime: 'id' }, says: '--event-time id holds string values' },
    { lines: ['not json'], options: {}, says: 'DuckDB cannot read it as JSON objects, one per line' },
  ])('refuses to guess: $says', async ({ lines, options, says }) => {
    const file = write('refused.ndjson', lines);
    await expect(inferDeclaration({ file, table: 't', topic: 't', ...options })).rejects.toThrow(SchemaInferenceError);
    await expect(inferDeclaration({ file, table: 't', topic: 't', ...options })).rejects.toThrow(new RegExp(says));
  });

  it('prints the declaration on stdout and its decisions on stderr; exits 2 when it cannot', async () => {
    const result = await streamlake(['schema', 'infer', '--file', sample, '--table', 'orders', '--topic', 'shop.orders', '--key', 'order_id', '--partition-by', 'day']);
    expect(result.code).toBe(0);
    expect(parseTableDeclaration(JSON.parse(result.stdout), 'stdout')).toMatchObject({ name: 'orders', key: 'order_id', eventTime: 'placed_at', partitionBy: 'day' });
    expect(result.stderr).toContain('event time: placed_at');
    const refused = await streamlake(['schema', 'infer', '--file', sample, '--table', 'orders', '--topic', 'shop.orders', '--key', 'coupon']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('"x-streamlake.key" field coupon must be a required string');
    expect(refused.stdout).toBe('');
  });
});
