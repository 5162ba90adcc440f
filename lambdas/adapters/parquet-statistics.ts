import type { FileMetaData, Statistics } from 'hyparquet';
import type { ChunkStatistics } from 'hyparquet-writer/src/types.js';
import type { ColumnStatistics, StatisticValue } from '../ports/parquet.ts';
import type { Dictionary } from './parquet-dictionary.ts';
import type { FlatValues } from './parquet-page.ts';

/** Column chunk statistics of the flat encoder, so engines skip the row groups a filter excludes. */

/** The distinct non-null strings of rows [start, end). */
function usedStrings(values: Extract<FlatValues, { kind: 'strings' }>, start: number, end: number): string[] {
  const used = new Set<number>();
  for (let row = start; row < end; row++) if (values.indices[row]! >= 0) used.add(values.indices[row]!);
  return [...used].map((index) => values.distinct[index]!);
}

/** Chunk min/max (by UTF-8 bytes for strings, signed zero normalized for numbers) and null count. */
export function statisticsOf(values: FlatValues, dictionary: Dictionary | undefined, start: number, end: number, nulls: number): Statistics {
  let min: string | number | undefined;
  let max: string | number | undefined;
  if (values.kind === 'strings') {
    const used = dictionary ? (dictionary.entries as string[]) : usedStrings(values, start, end);
    const bytes = used.map((value) => Buffer.from(value));
    let minAt = -1;
    let maxAt = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (minAt < 0 || Buffer.compare(bytes[i]!, bytes[minAt]!) < 0) minAt = i;
      if (maxAt < 0 || Buffer.compare(bytes[i]!, bytes[maxAt]!) > 0) maxAt = i;
    }
    min = used[minAt];
    max = used[maxAt];
  } else {
    for (let row = start; row < end; row++) {
      const value = values.values[row]!;
      if (Number.isNaN(value)) continue;
      if (min === undefined || value < (min as number)) min = value;
      if (max === undefined || value > (max as number)) max = value;
    }
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return { min_value: min, max_value: max, null_count: BigInt(nulls) };
}

/**
 * What the column chunks of a file's row groups say of each leaf column, together: the figures of
 * its footer, gathered as they were written, so a table format's per-file metrics cost no pass
 * over the rows. Every chunk this encoder writes carries statistics.
 */
export function fileStatistics(rowGroups: FileMetaData['row_groups']): ColumnStatistics[] {
  const byPath = new Map<string, ColumnStatistics>();
  for (const group of rowGroups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data!;
      // hyparquet-writer's chunks (decimal and nested columns) count NaN too; the flat encoder's hold none.
      // Neither writes a Date or byte-array bound: timestamps are numbers, decimals unscaled bigints.
      const statistics: ChunkStatistics = meta.statistics!;
      const key = meta.path_in_schema.join('.');
      const figures: ColumnStatistics = {
        path: meta.path_in_schema, bytes: Number(meta.total_compressed_size), values: Number(meta.num_values),
        nulls: Number(statistics.null_count), nans: Number(statistics.nan_count ?? 0),
        min: statistics.min_value as StatisticValue | undefined, max: statistics.max_value as StatisticValue | undefined,
      };
      const earlier = byPath.get(key);
      byPath.set(key, earlier ? combined(earlier, figures) : figures);
    }
  }
  return [...byPath.values()];
}

function combined(a: ColumnStatistics, b: ColumnStatistics): ColumnStatistics {
  return {
    path: a.path, bytes: a.bytes + b.bytes, values: a.values + b.values, nulls: a.nulls + b.nulls, nans: a.nans + b.nans,
    min: extreme(a.min, b.min, -1), max: extreme(a.max, b.max, 1),
  };
}

/** The smaller (`sign` -1) or larger (1) of two bounds, either possibly absent; strings by UTF-8 bytes, as Parquet orders them. */
function extreme(a: StatisticValue | undefined, b: StatisticValue | undefined, sign: -1 | 1): StatisticValue | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const order = typeof a === 'string' && typeof b === 'string' ? Buffer.compare(Buffer.from(b), Buffer.from(a)) : b < a ? -1 : b > a ? 1 : 0;
  return order === sign ? b : a;
}
