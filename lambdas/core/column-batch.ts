import type { ColumnBatch, ColumnValues } from '../ports/parquet.ts';
import { heldAsValue, type ColumnSpec } from './schema.ts';
import { StringDictionary } from './string-dictionary.ts';
import { grown } from './typed-arrays.ts';
import type { ValueList } from './value-list.ts';

/** Where the slot of a string, decimal or nested column points: its strings, or its values in read order. */
export type ColumnStore = StringDictionary | ValueList;

/**
 * Rows collected straight into typed columns: strings as ids into their column's
 * `StringDictionary`, numbers (timestamps as epoch milliseconds) in Float64Arrays, decimal and
 * nested values as indices into their column's `ValueList`. A flat table keeps no per-row object,
 * which is what makes compaction cheap in CPU and memory.
 */
export class ColumnBatchBuilder {
  readonly columns: readonly ColumnSpec[];
  private readonly stores: readonly (ColumnStore | undefined)[];
  private ids: (Int32Array | undefined)[];
  private numbers: (Float64Array | undefined)[];
  private rows = 0;

  /**
   * `stores[i]`: where the ids of column `i` point, if it is a string, decimal or nested column.
   * `capacity`: the rows expected; more are taken, at the cost of a copy.
   */
  constructor(columns: readonly ColumnSpec[], stores: readonly (ColumnStore | undefined)[], capacity: number) {
    this.columns = columns;
    this.stores = stores;
    const size = Math.max(1, capacity);
    this.ids = columns.map((column, i) => {
      if (column.type !== 'string' && !heldAsValue(column.type)) return undefined;
      if (!stores[i]) throw new TypeError(`${column.type} column ${column.name} needs a store for its values`);
      return new Int32Array(size);
    });
    this.numbers = columns.map((_, i) => (this.ids[i] ? undefined : new Float64Array(size)));
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Appends one row, a slot per column: an id into its store for a string, decimal or nested value, the number otherwise, NaN for null. The row is copied. */
  append(row: Float64Array): void {
    if (this.rows === (this.ids[0] ?? this.numbers[0])!.length) this.grow();
    const at = this.rows;
    for (let i = 0; i < row.length; i++) {
      const value = row[i]!;
      const ids = this.ids[i];
      if (ids === undefined) this.numbers[i]![at] = value;
      else ids[at] = Number.isNaN(value) ? -1 : value;
    }
    this.rows++;
  }

  /** All rows, or only those at the positions in `selection` (in that order). */
  batch(selection?: Int32Array): ColumnBatch {
    const values = this.columns.map((_, i): ColumnValues => {
      const ids = this.ids[i];
      if (ids === undefined) return { kind: 'numbers', values: pick(this.numbers[i]!.subarray(0, this.rows), selection) };
      const store = this.stores[i]!;
      const picked = pick(ids.subarray(0, this.rows), selection);
      if (store instanceof StringDictionary) return { kind: 'strings', distinct: store.values, indices: picked };
      return { kind: 'values', values: Array.from(picked, (id) => (id < 0 ? null : store.values[id]!)) };
    });
    return { columns: this.columns, values, rowCount: selection?.length ?? this.rows };
  }

  private grow(): void {
    this.ids = this.ids.map((ids) => ids && grown(ids, ids.length + 1));
    this.numbers = this.numbers.map((numbers) => numbers && grown(numbers, numbers.length + 1));
  }
}

function pick<T extends Int32Array | Float64Array>(array: T, selection: Int32Array | undefined): T {
  if (selection === undefined) return array;
  const picked = new (array.constructor as new (length: number) => T)(selection.length);
  for (let i = 0; i < selection.length; i++) picked[i] = array[selection[i]!]!;
  return picked;
}
