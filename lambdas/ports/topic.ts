/** A record as read from a topic partition. */
export interface TopicRecord {
  readonly partition: number;
  /** Offsets are int64 in Kafka; numbers are exact up to 2^53, far beyond any partition's life. */
  readonly offset: number;
  /** Record timestamp, epoch milliseconds. */
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
}

/** A record to produce. Records with the same key go to the same partition and keep their order. */
export interface OutgoingRecord {
  readonly key: string | null;
  readonly value: Uint8Array;
  /** Record timestamp, epoch milliseconds. */
  readonly timestamp: number;
}

/** The offsets of one partition: records live in `[earliest, highWatermark)`. */
export interface PartitionOffsets {
  readonly partition: number;
  /** First offset still in the log (retention may have deleted the ones before). */
  readonly earliest: number;
  /** Offset the next record will get: one past the last readable record. */
  readonly highWatermark: number;
}

/** Writes records to the topic. */
export interface TopicWriter {
  /** Appends records; resolves once they are durable (acks=all on Kafka). */
  produce(records: readonly OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Records read from one partition, and how far the read got: every offset in `[previous next, next)`
 * is either one of `records` or holds no data (a transaction marker, an aborted transaction's record).
 */
export interface TopicBatch {
  readonly records: readonly TopicRecord[];
  /** The offset after the last one this batch covers. */
  readonly next: number;
}

/** Reads bounded ranges of the topic without joining a consumer group. */
export interface TopicReader {
  /** Offsets of every partition, ordered by partition. */
  offsets(): Promise<PartitionOffsets[]>;
  /**
   * The records of `partition` in `[from, to)`, in offset order, in batches. It may end before `to`
   * (retention deleted the next records, or the brokers stopped answering with them); the caller
   * tells which from the last batch's `next` and `offsets()`.
   */
  read(partition: number, from: number, to: number): AsyncIterable<TopicBatch>;
  /** Publishes the group's committed offsets (next offset to read) so lag is visible to Kafka tooling. */
  commitOffsets(group: string, offsets: ReadonlyMap<number, number>): Promise<void>;
  close(): Promise<void>;
}
