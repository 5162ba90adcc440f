import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../lambdas/adapters/kafka-partitioner.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { DeviceFleet } from '../../../lambdas/demo/device-fleet.ts';
import type { OutgoingRecord } from '../../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { ClockError, readClock } from '../../../src/local/clock.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { runLocal } from '../../../src/local/runner.ts';
import { fleetReadings } from '../../helpers/fleet-readings.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const MINUTE_MS = 60_000;
const START = Date.UTC(2026, 4, 10, 8, 0);
const DEVICES = 12;
const FIRST_MINUTES = 2;

// Whether a record of the minute reached the log, given its partition and every partition's share of the minute.
type Reached = (record: OutgoingRecord, partition: number, shares: readonly OutgoingRecord[][]) => boolean;

// What a run stopped in its next minute (START + FIRST_MINUTES) may have left in the log, before it could save the clock.
const INTERRUPTIONS: { name: string; reached: Reached; foreign?: boolean }[] = [
  { name: 'before it produced anything', reached: () => false },
  { name: 'after it produced the whole minute', reached: () => true },
  { name: 'after some partitions got their share', reached: (_, partition) => partition % 2 === 0 },
  {
    name: 'in the middle of one partition and after another',
    reached: (record, partition, shares) => partition === 1 || (partition === 0 && shares[0]!.indexOf(record) < shares[0]!.length / 2),
  },
  { name: 'after part of the minute, with another producer writing after it', reached: (_, partition) => partition < 3, foreign: true },
];

describe('streamlake local, stopped and run again', () => {
  const dirs: { remove: () => void }[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => dir.remove()));

  async function firstRun() {
    const dir = tempDir();
    dirs.push(dir);
    const options = { dataDir: dir.path, minutes: FIRST_MINUTES, devices: DEVICES, seed: 9, codec: 'snappy' as const, start: START };
    await runLocal(options);
    return { options, layout: dataDirLayout(dir.path) };
  }

  it.each(INTERRUPTIONS)('produces each reading once when the last run was stopped $name', async ({ reached, foreign }) => {
    const { options, layout } = await firstRun();
    const minute = START + FIRST_MINUTES * MINUTE_MS;
    const records = new DeviceFleet({ ...DEFAULTS, devices: DEVICES, seed: options.seed }).recordsForMinute(minute, minute + MINUTE_MS);
    const shares = Array.from({ length: DEFAULTS.partitions }, () => [] as OutgoingRecord[]);
    for (const record of records) shares[partitionForKey(record.key!, DEFAULTS.partitions)]!.push(record);
    const inLog = records.filter((record) => reached(record, partitionForKey(record.key!, DEFAULTS.partitions), shares));
    expect(shares[0]!.length).toBeGreaterThan(1); // so that half of partition 0 is neither none nor all of it
    // The stopped run's writer, as far as it got; then maybe another producer.
    const log = await LocalLog.open({ dir: layout.topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    await log.produce(inLog);
    if (foreign) await log.produce([{ key: 'lab-1', value: new TextEncoder().encode('{"not":"the fleet"}'), timestamp: minute }]);
    await log.close();

    const second = await runLocal({ ...options, start: undefined, minutes: 1 });
    // With nothing past the clock in the log, the stopped minute is simply the next one.
    const resumed = inLog.length > 0 || foreign === true;
    expect(second.resumedRecords).toBe(resumed ? records.length - inLog.length : 0);
    expect(second.start).toBe(new Date(resumed ? minute + MINUTE_MS : minute).toISOString());
    expect(second.produced).toBe(second.resumedRecords + DEVICES);

    const minutes = FIRST_MINUTES + (resumed ? 2 : 1);
    const readings = await fleetReadings(layout.lakeDir);
    expect(readings).toEqual({ devices: DEVICES, readings: minutes * DEVICES, repeated: 0, repeatedInQuarantine: 0, misplaced: 0, devicesWithGaps: 0 });
    const reader = await LocalLog.open({ dir: layout.topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    const audit = await auditLake(layout.lakeDir, await reader.offsets());
    expect(audit).toMatchObject({ duplicates: 0, incompletePartitions: [] });
    expect((await readClock(layout.clockFile))!.nextStart).toBe(START + minutes * MINUTE_MS);
  });

  it('finishes the first minute of a fresh data directory when the run was stopped in it', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const options = { dataDir: dir.path, minutes: 5, devices: DEVICES, seed: 9, codec: 'snappy' as const, start: START };
    const layout = dataDirLayout(dir.path);
    // Stopped before its first minute: what a kill in the middle of that minute leaves, less the records.
    expect(await runLocal({ ...options, signal: AbortSignal.abort() })).toMatchObject({ minutes: 0, interrupted: true, produced: 0 });
    const records = new DeviceFleet({ ...DEFAULTS, devices: DEVICES, seed: options.seed }).recordsForMinute(START, START + MINUTE_MS);
    const log = await LocalLog.open({ dir: layout.topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    await log.produce(records.slice(0, DEVICES / 2));
    await log.close();

    const second = await runLocal({ ...options, start: undefined, minutes: 1 });
    expect(second).toMatchObject({ resumedRecords: DEVICES / 2, start: new Date(START + MINUTE_MS).toISOString(), interrupted: false });
    expect(await fleetReadings(layout.lakeDir)).toMatchObject({ devices: DEVICES, readings: 2 * DEVICES, repeated: 0, devicesWithGaps: 0 });
  });

  it('stops at the end of a minute when signalled, and the next run starts at the minute after it', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const options = { dataDir: dir.path, minutes: 20, devices: DEVICES, seed: 9, codec: 'snappy' as const, start: START };
    const stop = new AbortController();
    const abortAtMinute3 = ({ minute }: { minute: number }) => {
      if (minute === 3) stop.abort();
    };
    const first = await runLocal({ ...options, signal: stop.signal, onProgress: abortAtMinute3 });
    expect(first).toMatchObject({ minutes: 3, interrupted: true, produced: 3 * DEVICES, end: new Date(START + 3 * MINUTE_MS).toISOString() });
    const second = await runLocal({ ...options, start: undefined, minutes: 2 });
    expect(second).toMatchObject({ start: first.end, resumedRecords: 0, interrupted: false, lakeRows: 5 * DEVICES - second.quarantined });
  });

  it('refuses --start before the clock, whose minutes are in the log already', async () => {
    const { options } = await firstRun();
    const refused = runLocal({ ...options, minutes: 1 });
    await expect(refused).rejects.toThrow(ClockError);
    await expect(refused).rejects.toThrow('Drop --start to continue from the clock');
    const later = await runLocal({ ...options, start: START + 10 * MINUTE_MS, minutes: 1 });
    expect(later.start).toBe(new Date(START + 10 * MINUTE_MS).toISOString());
  });

  it('refuses to continue a clock on a log that holds less than when the clock was saved', async () => {
    const { options, layout } = await firstRun();
    rmSync(layout.topicDir(DEVICE_LOGS.topic), { recursive: true });
    await expect(runLocal({ ...options, start: undefined, minutes: 1 })).rejects.toThrow(/not the log the clock belongs to\. Delete .*local-clock\.json/);
  });
});
