import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { partitionForKey } from '../../lambdas/adapters/kafka-partitioner.ts';
import { DeviceFleet } from '../../lambdas/demo/device-fleet.ts';
import type { OutgoingRecord, TopicReader, TopicWriter } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';

const MINUTE_MS = 60_000;

/**
 * Where the simulated clock of `streamlake local` stands, saved after every minute it produces:
 * the next run continues there. The generator keeps no other state (a reading's `seq` and values
 * derive from the seed, the device and the minute), so the clock is all a run needs to continue the
 * fleet's readings without repeating or skipping one.
 */
export interface SimulatedClock {
  /** End of the last minute produced in full, epoch ms: the next minute produced starts here. */
  readonly nextStart: number;
  /** Every partition's high watermark right after that minute: records past them are the next minute's, cut short. */
  readonly highWatermarks: readonly number[];
  /** The fleet producing the next minute: the records of a minute cut short are that fleet's. */
  readonly devices: number;
  readonly seed: number;
}

/** The simulated clock and the log disagree in a way no interruption explains; the message says what to do. */
export class ClockError extends Error {
  override name = 'ClockError';
}

/** A clock saved by a version that kept only `nextStart`, at the end of a complete run. */
type LegacyClock = Pick<SimulatedClock, 'nextStart'>;

/** The saved clock, or undefined when no run saved one in this data directory. */
export async function readClock(file: string): Promise<SimulatedClock | LegacyClock | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SimulatedClock | LegacyClock;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Replaces the saved clock atomically: a crash at any point leaves the old clock or the new one, whole. */
export async function saveClock(file: string, clock: SimulatedClock): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(clock)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const directory = await open(dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** The high watermark of every partition, in partition order. */
export async function highWatermarks(reader: TopicReader): Promise<number[]> {
  return (await reader.offsets()).map((o) => o.highWatermark);
}

/** What {@link finishInterruptedMinute} did: where the clock stands now, and the records it produced. */
export interface FinishedMinute {
  readonly nextStart: number;
  readonly records: number;
  readonly bytes: number;
}

/**
 * Makes the log and the clock agree again after a run was stopped between producing a minute and
 * saving the clock, or in the middle of producing it (a minute's records do not reach every
 * partition at once). The records past the saved high watermarks are that next minute's, a prefix
 * of each partition's share: this produces the rest of the minute, and only the rest, then saves
 * the clock after it. The writer must already hold the topic, so that the log's end is final.
 */
export async function finishInterruptedMinute(
  file: string,
  clock: SimulatedClock | LegacyClock,
  topic: { reader: TopicReader; writer: TopicWriter },
): Promise<FinishedMinute> {
  const unchanged = { nextStart: clock.nextStart, records: 0, bytes: 0 };
  // A legacy clock was saved when its run had produced every minute: the log's end is its own.
  if (!('highWatermarks' in clock)) return unchanged;
  const logEnd = await highWatermarks(topic.reader);
  const saved = clock.highWatermarks;
  if (saved.every((hw, p) => logEnd[p] === hw)) return unchanged;
  const behind = saved.findIndex((hw, p) => (logEnd[p] ?? 0) < hw);
  if (behind >= 0) {
    throw new ClockError(
      `partition ${behind} of the topic ends at offset ${logEnd[behind] ?? 0}, before the ${saved[behind]} records it held when the simulated clock was saved: ` +
        `this is not the log the clock belongs to. Delete ${file} to start the clock over, or pass a fresh --data-dir.`,
    );
  }
  const now = clock.nextStart + MINUTE_MS;
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: clock.devices, seed: clock.seed });
  // Keys went to partitions by the partition count of the run that was stopped, even if the topic has grown since.
  const shares = saved.map(() => [] as OutgoingRecord[]);
  for (const record of fleet.recordsForMinute(clock.nextStart, now)) shares[partitionForKey(record.key!, saved.length)]!.push(record);
  const missing: OutgoingRecord[] = [];
  for (const [partition, share] of shares.entries()) {
    let found = 0;
    // In order, skipping records that are not the fleet's: another producer may have written to the topic too.
    for await (const batch of topic.reader.read(partition, saved[partition]!, logEnd[partition]!)) {
      for (const record of batch.records) if (found < share.length && Buffer.compare(record.value, share[found]!.value) === 0) found++;
    }
    missing.push(...share.slice(found));
  }
  await topic.writer.produce(missing);
  await saveClock(file, { ...clock, nextStart: now, highWatermarks: await highWatermarks(topic.reader) });
  return { nextStart: now, records: missing.length, bytes: missing.reduce((sum, r) => sum + r.value.byteLength, 0) };
}
