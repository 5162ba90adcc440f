import type { ColumnBatch, ColumnValues } from '../ports/parquet.ts';
import type { ColumnSpec } from './schema.ts';

/** One value per column, in column order. */
export type Row = (string | number | null)[];

const INITIAL_CAPACITY = 1024;

class StringColumn {
  private readonly positions = new Map<string, number>();
  private readonly distinct: string[] = [];
  private indices = new Int32Array(INITIAL_CAPACITY);

  append(at: number, value: string | null): void {
    if (at === this.indices.length) this.indices = grow(this.indices);
    if (value === null) {
      this.indices[at] = -1;
      return;
    }
    let index = this.positions.get(value);
    if (index === undefined) {
      index = this.distinct.length;
      this.positions.set(value, index);
      this.distinct.push(value);
    }
    this.indices[at] = index;
  }

  values(rowCount: number): ColumnValues {
    return { kind: 'strings', distinct: this.distinct, indices: this.indices.subarray(0, rowCount) };
  }
}

class NumberColumn {
  private numbers = new Float64Array(INITIAL_CAPACITY);

  append(at: number, value: number | null): void {
    if (at === this.numbers.length) this.numbers = grow(this.numbers);
    this.numbers[at] = value ?? Number.NaN;
  }

  values(rowCount: number): ColumnValues {
    return { kind: 'numbers', values: this.numbers.subarray(0, rowCount) };
  }
}

function grow<T extends Int32Array | Float64Array>(array: T): T {
  const larger = new (array.constructor as new (length: number) => T)(array.length * 2);
  larger.set(array);
  return larger;
}

/**
 * Collects rows straight into typed columns: strings as indices into their distinct values,
 * numbers (timestamps as epoch milliseconds) in Float64Arrays. No per-row objects are kept,
 * which is what makes compaction cheap in CPU and memory.
 */
export class ColumnBatchBuilder {
  readonly columns: readonly ColumnSpec[];
  private readonly builders: (StringColumn | NumberColumn)[];
  private rows = 0;

  constructor(columns: readonly ColumnSpec[]) {
    this.columns = columns;
    this.builders = columns.map((column) => (column.type === 'string' ? new StringColumn() : new NumberColumn()));
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Appends one row; the row is copied, so the caller may reuse it. */
  append(row: Readonly<Row>): void {
    for (let i = 0; i < this.builders.length; i++) {
      (this.builders[i] as { append(at: number, value: string | number | null): void }).append(this.rows, row[i] ?? null);
    }
    this.rows++;
  }

  batch(): ColumnBatch {
    return { columns: this.columns, values: this.builders.map((builder) => builder.values(this.rows)), rowCount: this.rows };
  }
}
