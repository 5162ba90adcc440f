import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { compact, type CompactionReport, type CompactorOptions } from '../../lambdas/core/compactor.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { TopicReader, TopicRecord } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { compactorOptions } from '../../src/local/runner.ts';
import { DEVICE_LOGS } from './tables.ts';

/** One compactor run as the deployed handler composes it (the defaults' options, the Parquet encoder, the wall clock), over any reader and store. */
export function compactOnce(topic: TopicReader, store: ObjectStore, options: Partial<CompactorOptions> = {}): Promise<CompactionReport> {
  return compact({ topic, store, encoder: parquetEncoder(), clock: { now: Date.now } }, { ...compactorOptions(DEFAULTS, DEVICE_LOGS), ...options });
}

/** Compactor runs until one finds nothing to do, as the schedule would; resolves to the reports of the runs that did something. */
export async function compactUntilIdle(topic: TopicReader, store: ObjectStore, options: Partial<CompactorOptions> = {}): Promise<CompactionReport[]> {
  const reports: CompactionReport[] = [];
  for (let report = await compactOnce(topic, store, options); report.runId !== null; report = await compactOnce(topic, store, options)) reports.push(report);
  return reports;
}

/**
 * `reader` with a pause after each batch it hands out: `afterBatch` runs before the next batch is
 * read, so a test can break things (restart the broker, let tokens expire) in the middle of a run.
 */
export function pausingAfterBatches(reader: TopicReader, afterBatch: (batch: readonly TopicRecord[]) => Promise<void>): TopicReader {
  return {
    offsets: () => reader.offsets(),
    commitOffsets: (group, offsets) => reader.commitOffsets(group, offsets),
    close: () => reader.close(),
    async *read(partition, from, to) {
      for await (const batch of reader.read(partition, from, to)) {
        yield batch;
        await afterBatch(batch.records);
      }
    },
  };
}

/** What {@link failingFromRead}'s reads throw. */
export const BROKERS_GONE = 'the brokers stopped answering';

/**
 * `topic` whose `read` throws from its `failingRead`-th call on (counting from 1): the run that
 * makes that call has claimed its ranges, and fails before its commit.
 */
export function failingFromRead(topic: TopicReader, failingRead: number): TopicReader {
  let reads = 0;
  return {
    offsets: () => topic.offsets(),
    commitOffsets: (group, offsets) => topic.commitOffsets(group, offsets),
    close: () => topic.close(),
    read: (partition, from, to) => {
      if (++reads >= failingRead) throw new Error(BROKERS_GONE);
      return topic.read(partition, from, to);
    },
  };
}
