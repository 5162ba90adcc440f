import type { NestedValue } from '../ports/parquet.ts';

/**
 * The values of a decimal or nested column in the order the rows that hold them were read: such a
 * row's slot holds the index of its value here, as a string row's holds an id into its
 * `StringDictionary`. Nested values are nearly always distinct, so they are not deduplicated.
 */
export class ValueList {
  readonly values: NestedValue[] = [];

  /** Appends `value` and returns its index. */
  add(value: NestedValue): number {
    return this.values.push(value) - 1;
  }
}
