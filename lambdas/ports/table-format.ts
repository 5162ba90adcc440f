import type { PendingRun } from '../core/checkpoint.ts';
import type { ColumnStatistics, TimestampUnit } from './parquet.ts';

/** A data file a compactor run wrote: one per time bucket (hours or days since 1970) its rows fall in. */
export interface WrittenFile {
  readonly key: string;
  readonly bucket: number;
  readonly rows: number;
  readonly bytes: number;
  /** Its leaf columns' statistics, as the encoder wrote them in its footer: an Iceberg manifest lists them as the file's metrics. */
  readonly columns: readonly ColumnStatistics[];
}

/** The Kafka offsets a table holds before a run (the checkpoint's) and after it commits. */
export interface RunOffsets {
  readonly before: Readonly<Record<string, number>>;
  readonly after: Readonly<Record<string, number>>;
}

/**
 * How a table's rows are stored: where a run's data file for a time bucket goes, and what makes a
 * run's files part of the table. Both must be repeatable: a run finished again after a crash, or
 * by a concurrent compactor, names the same files and commits at most once.
 */
export interface TableFormat {
  /** How the format's data files store timestamps. */
  readonly timestampUnit: TimestampUnit;
  /** The key of the data file of a time bucket, named by the run's stem (see `runFileStem`). */
  dataFileKey(bucket: number, stem: string): string;
  /**
   * Makes the run's files the table's. Does nothing when the table already includes the run (an
   * earlier attempt committed it); refuses when the table's offsets are not `offsets.before`.
   */
  commitRun(run: PendingRun, files: readonly WrittenFile[], offsets: RunOffsets): Promise<void>;
  /**
   * Makes a redrive run's files the table's, keeping the compactor's offsets as they are; does
   * nothing when the table already includes that run.
   */
  commitRedrive(run: Pick<PendingRun, 'sequence' | 'runId'>, files: readonly WrittenFile[]): Promise<void>;
  /**
   * Refuses when the table holds redrive runs past `committed`, the last one its redrive ledger
   * committed: the ledger was reset, and its next runs would be taken for runs the table holds.
   */
  checkRedriveLedger(committed: number): Promise<void>;
}
