import type { ObjectStore } from '../ports/object-store.ts';
import type { Codec, ParquetEncoder } from '../ports/parquet.ts';
import type { TableFormat, WrittenFile } from '../ports/table-format.ts';
import type { TopicRecord } from '../ports/topic.ts';
import { ColumnBatchBuilder } from './column-batch.ts';
import { RecordDecoder, type ValidationLimits } from './decode.ts';
import { bucketMillis } from './lake-layout.ts';
import type { Rejection } from './rejection.ts';
import { tableColumns, type TableSpec } from './table-declaration.ts';

/**
 * Records judged by a table's declaration and limits: each one that passes becomes a row with its
 * Kafka lineage (`kafka_partition`, `kafka_offset`, `kafka_timestamp`), filed under its time
 * bucket; the caller keeps the rejections. The compactor fills it from the topic, a redrive from
 * the quarantine: a record lands the same way whichever brought it.
 */
export class LakeRows {
  private readonly decoder: RecordDecoder;
  private readonly rows: ColumnBatchBuilder;
  private readonly buckets = new BucketIndex();
  private readonly bucketMs: number;
  // The lineage columns follow the declared fields and `_extra` in a row.
  private readonly partitionIndex: number;
  private readonly eventTimeIndex: number;
  private readonly row: Float64Array;

  /** `capacity`: the records expected; more are taken, at the cost of a copy. */
  constructor(table: TableSpec, limits: ValidationLimits, capacity: number) {
    this.decoder = new RecordDecoder(table, limits);
    const columns = tableColumns(table);
    this.rows = new ColumnBatchBuilder(columns, this.decoder.dictionaries, capacity);
    this.bucketMs = bucketMillis(table.partitionBy);
    this.partitionIndex = this.decoder.extraIndex + 1;
    this.eventTimeIndex = this.decoder.eventTimeIndex;
    this.row = new Float64Array(columns.length);
  }

  /** Adds `record` as a row; returns why it is rejected instead when it is. */
  add(record: TopicRecord): Rejection | undefined {
    const row = this.row;
    const rejection = this.decoder.decode(record.value, record.timestamp, row);
    if (rejection !== undefined) return rejection;
    row[this.partitionIndex] = record.partition;
    row[this.partitionIndex + 1] = record.offset;
    row[this.partitionIndex + 2] = record.timestamp;
    this.buckets.add(Math.floor(row[this.eventTimeIndex]! / this.bucketMs), this.rows.rowCount);
    this.rows.append(row);
    return undefined;
  }

  get rowCount(): number {
    return this.rows.rowCount;
  }

  /** Names of the fields the declaration does not name that the added records carried (kept in `_extra`). */
  unknownFields(): string[] {
    return this.decoder.unknownFields();
  }

  /**
   * Writes one Parquet file per time bucket, in `format`'s place for it and named by `stem`,
   * each created only if absent: the same rows written again under the same stem change nothing.
   */
  async write(deps: { readonly store: ObjectStore; readonly encoder: ParquetEncoder }, codec: Codec, format: TableFormat, stem: string): Promise<WrittenFile[]> {
    const written: WrittenFile[] = [];
    for (const [bucket, positions] of this.buckets.sorted()) {
      const { bytes, columns } = deps.encoder.encode(this.rows.batch(positions.length === this.rows.rowCount ? undefined : Int32Array.from(positions)), codec, format.timestampUnit);
      const key = format.dataFileKey(bucket, stem);
      await deps.store.putIfAbsent(key, bytes);
      written.push({ key, bucket, rows: positions.length, bytes: bytes.byteLength, columns });
    }
    return written;
  }
}

/** The positions of the rows of each time bucket (buckets since the epoch), in read order. */
class BucketIndex {
  private readonly positions = new Map<number, number[]>();
  // Records arrive mostly in time order, so the bucket of the last row is usually the next one's.
  private lastBucket = Number.NaN;
  private last: number[] = [];

  add(bucket: number, position: number): void {
    if (bucket !== this.lastBucket) {
      let positions = this.positions.get(bucket);
      if (!positions) this.positions.set(bucket, (positions = []));
      this.lastBucket = bucket;
      this.last = positions;
    }
    this.last.push(position);
  }

  sorted(): [number, number[]][] {
    return [...this.positions].sort(([a], [b]) => a - b);
  }
}
