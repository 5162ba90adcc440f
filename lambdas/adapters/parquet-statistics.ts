import type { Statistics } from 'hyparquet';
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
