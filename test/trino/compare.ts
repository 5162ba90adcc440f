import { expect } from 'vitest';
import type { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import type { TrinoResult } from '../../tools/trino/client.ts';

/**
 * A result in the form both engines' results are compared in: column names, the kind of each
 * column (its type family: `integer` for every integer width, `decimal(scale 2)` keeping the
 * scale, since a decimal's scale decides its rounding), and rows of values normalized per kind
 * (timestamps as epoch milliseconds, numbers as numbers).
 */
export interface Comparable {
  readonly columns: readonly string[];
  readonly kinds: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
}

/** Fractional numbers agree to this many significant decimals: they differ only by the order in which each engine summed them. */
const DECIMALS = 9;
/** Values with at most this many decimals are taken as rounded by the query. */
const ROUNDED_DECIMALS = 4;

export function fromTrino(result: TrinoResult): Comparable {
  const kinds = result.columns.map((c) => kindOf(c.type));
  return { columns: result.columns.map((c) => c.name), kinds, rows: result.rows.map((row) => row.map((value, i) => normalize(value, kinds[i]!, trinoEpochMs))) };
}

/**
 * The epoch milliseconds of a timestamp as Trino prints it: `timestamp(3)` as `2026-03-01 23:00:00.276`
 * (the session is in UTC), `timestamp(6) with time zone` as `2026-03-01 23:00:00.276000 UTC`.
 * Microseconds are kept as the fraction of a millisecond, so a difference below one still shows.
 */
export function trinoEpochMs(text: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?( UTC)?$/.exec(text);
  expect(match, `a timestamp in UTC: ${text}`).not.toBeNull();
  const [, date, time, fraction = ''] = match!;
  return Date.parse(`${date}T${time}Z`) + Number(fraction.padEnd(6, '0')) / 1000;
}

/** The rows DuckDB returns for `sql`, with the column types DuckDB gives them. */
export async function fromDuckDb(lake: DuckDbLake, sql: string): Promise<Comparable> {
  const kinds = (await lake.query(`DESCRIBE ${sql}`)).rows.map((column) => kindOf(String(column.column_type)));
  const { columns, rows } = await lake.query(sql);
  // DuckDbLake gives timestamps as ISO-8601 UTC strings.
  return { columns, kinds, rows: rows.map((row) => columns.map((name, i) => normalize(row[name], kinds[i]!, Date.parse))) };
}

/** `result` without column `name`. */
export function withoutColumn(result: Comparable, name: string): Comparable {
  const keep = (_: unknown, i: number) => result.columns[i] !== name;
  return { columns: result.columns.filter(keep), kinds: result.kinds.filter(keep), rows: result.rows.map((row) => row.filter(keep)) };
}

/** The values of column `name`. */
export function columnOf(result: Comparable, name: string): unknown[] {
  const index = result.columns.indexOf(name);
  expect(index, `column ${name} in ${result.columns.join(', ')}`).toBeGreaterThanOrEqual(0);
  return result.rows.map((row) => row[index]);
}

/**
 * Expects the same columns, kinds and rows, in the same order: fractional numbers to
 * {@link DECIMALS} decimals, the rest exactly. With `roundingTies`, a value the query rounded may
 * also differ by one unit in its last decimal: its exact value was a tie (an average of x.xx5) that
 * the engines, summing in different orders, broke either way.
 */
export function expectSameResult(actual: Comparable, expected: Comparable, options: { roundingTies?: boolean } = {}): void {
  expect(actual.columns).toEqual(expected.columns);
  expect(actual.kinds).toEqual(expected.kinds);
  const fractional = expected.kinds.map((kind) => kind === 'double' || kind.startsWith('decimal'));
  const agree = (a: number, e: number) => Math.abs(a - e) <= 10 ** -DECIMALS * Math.max(1, Math.abs(e)) || (options.roundingTies === true && isRoundingTie(a, e));
  // Values that agree take the expected value, so a failure's diff shows only the real differences.
  const aligned = actual.rows.map((row, r) =>
    row.map((value, i) => {
      const want = expected.rows[r]?.[i];
      return fractional[i] && typeof value === 'number' && typeof want === 'number' && agree(value, want) ? want : value;
    }),
  );
  expect(aligned).toEqual(expected.rows);
}

/** Two values rounded to the same few decimals, one unit of the last apart: the two roundings of a tie. */
function isRoundingTie(a: number, b: number): boolean {
  const decimals = Math.max(decimalsOf(a), decimalsOf(b));
  return decimals <= ROUNDED_DECIMALS && Math.abs(Math.abs(a - b) - 10 ** -decimals) < 10 ** -(decimals + 6);
}

function decimalsOf(value: number): number {
  return (String(value).split('.')[1] ?? '').length;
}

function kindOf(type: string): string {
  const t = type.toLowerCase();
  // Hive's timestamp(3) and Iceberg's timestamptz, timestamp(6) with time zone, both hold UTC instants here.
  if (/^timestamp(\(\d+\))?( with time zone)?$/.test(t)) return 'timestamp';
  if (/^(tinyint|smallint|integer|bigint|hugeint)$/.test(t)) return 'integer';
  if (/^(real|float|double)$/.test(t)) return 'double';
  if (/^varchar(\(\d+\))?$/.test(t)) return 'varchar';
  const decimal = /^decimal\(\d+, ?(\d+)\)$/.exec(t);
  return decimal ? `decimal(scale ${decimal[1]})` : t;
}

function normalize(value: unknown, kind: string, epochMs: (text: string) => number): unknown {
  if (value === null) return null;
  if (kind === 'timestamp') return epochMs(String(value));
  if (kind === 'integer' || kind === 'double' || kind.startsWith('decimal')) return Number(value);
  return value;
}
