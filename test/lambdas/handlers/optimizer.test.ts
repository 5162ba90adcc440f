import { CreateTableCommand, UpdateTableCommand } from '@aws-sdk/client-glue';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { curatedPrefix } from '../../../lambdas/core/lake-layout.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import { createCompactorHandler } from '../../../lambdas/handlers/compactor.ts';
import { ENV } from '../../../lambdas/handlers/environment.ts';
import { createOptimizerHandler } from '../../../lambdas/handlers/optimizer.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorSettings } from '../../../lib/functions/pipeline-functions.ts';
import { optimizerSettings } from '../../../lib/functions/table-optimizer.ts';
import { FakeS3 } from '../../helpers/fake-s3.ts';
import { FakeGlue } from './fake-glue.ts';
import { BUCKET, currentMetadata, DATABASE, icebergEnvironment, localTopicPerTest } from './iceberg-lake.ts';

const TABLE = 'device_logs';
// Long enough ago that every hour of it is closed whatever maxEventAgeHours says.
const START = Date.UTC(2025, 0, 6, 8, 0);

describe('optimizer handler of an Iceberg table', () => {
  const topic = localTopicPerTest();

  it('merges the small files the compactor runs left in each closed hour in one snapshot committed through Glue, keeping every row', async () => {
    const s3 = new FakeS3(BUCKET);
    const glue = new FakeGlue(DATABASE);
    const factories = { s3Client: () => s3.client, glueClient: () => glue.client };
    const fleet = new DeviceFleet({ ...DEFAULTS, devices: 10, corruptShare: 0 });
    // Four compactor runs of 30 minutes each: two files in each of the hours they cover.
    process.env = icebergEnvironment(compactorSettings(DEFAULTS));
    const compactor = createCompactorHandler({ ...factories, openReader: async () => topic.log });
    let rows = 0;
    for (let run = 0; run < 4; run++) {
      for (let minute = 1; minute <= 30; minute++) await produceMinute(fleet, topic.log, START + (run * 30 + minute) * 60_000);
      rows += (await compactor()).rowsWritten;
    }
    const dataFiles = () => [...s3.objects.keys()].filter((key) => key.startsWith(`${curatedPrefix(TABLE)}data/`) && key.endsWith('.parquet'));
    const filesBefore = dataFiles().length;
    const versionBefore = glue.tables.get(TABLE)!.VersionId;

    process.env = icebergEnvironment(optimizerSettings(DEFAULTS));
    const optimizer = createOptimizerHandler(factories);
    // An invocation with no time left starts no merge (and commits nothing).
    expect(await optimizer(undefined, { getRemainingTimeInMillis: () => 0 })).toMatchObject({ snapshotId: null, partitionsMerged: 0 });
    const report = await optimizer(undefined, { getRemainingTimeInMillis: () => 900_000 });

    // Every hour had a file per run that touched it; a late event's hour with one file is left as it is (and not reported).
    expect(report).toMatchObject({ table: TABLE });
    expect(report.snapshotId).not.toBeNull();
    expect(report.partitionsMerged).toBeGreaterThanOrEqual(2);
    expect(report.filesBefore).toBeGreaterThan(report.filesAfter);
    expect(report.filesAfter).toBe(report.partitionsMerged);
    for (const partition of report.partitions) expect(partition).toMatchObject({ closed: true, filesAfter: 1 });
    expect(report.partitions).toHaveLength(report.partitionsMerged);
    expect(report.partitions.reduce((sum, p) => sum + p.filesBefore, 0)).toBe(report.filesBefore);
    // Committed with Glue's optimistic lock, from the version the compactor left.
    const update = glue.mock.commandCalls(UpdateTableCommand).at(-1)!.args[0].input;
    expect(update).toMatchObject({ DatabaseName: DATABASE, VersionId: versionBefore, TableInput: { Name: TABLE, Parameters: { table_type: 'ICEBERG' } } });
    expect(glue.mock.commandCalls(CreateTableCommand)).toHaveLength(1);
    const { metadata } = currentMetadata(s3, glue);
    const current = metadata.snapshots.find((s) => s['snapshot-id'] === metadata['current-snapshot-id'])!;
    expect(current.summary).toMatchObject({ operation: 'replace', 'total-records': String(rows), 'total-data-files': String(filesBefore - report.filesBefore + report.filesAfter) });
    // Within the retention, the replaced files stay for time travel.
    expect(s3.mock.commandCalls(DeleteObjectCommand)).toEqual([]);

    // Nothing left to merge: the next run commits nothing.
    const again = await optimizer();
    expect(again).toMatchObject({ snapshotId: null, partitionsMerged: 0 });
    expect(glue.tables.get(TABLE)!.VersionId).toBe(String(Number(versionBefore) + 1));
  });

  it('does nothing to a table whose compactor has not committed yet', async () => {
    const glue = new FakeGlue(DATABASE);
    process.env = icebergEnvironment(optimizerSettings(DEFAULTS));
    const report = await createOptimizerHandler({ s3Client: () => new FakeS3(BUCKET).client, glueClient: () => glue.client })();
    expect(report).toMatchObject({ snapshotId: null, partitionsMerged: 0, snapshotsExpired: 0 });
    expect(glue.mock.commandCalls(CreateTableCommand)).toEqual([]);
    expect(glue.mock.commandCalls(UpdateTableCommand)).toEqual([]);
  });

  it('refuses a Hive-Parquet table, and fails fast naming a missing setting', async () => {
    const factories = { s3Client: () => new FakeS3(BUCKET).client, glueClient: () => new FakeGlue(DATABASE).client };
    process.env = icebergEnvironment(optimizerSettings(DEFAULTS), 'orders');
    await expect(createOptimizerHandler(factories)()).rejects.toThrow(/orders is stored as hive-parquet: the optimizer merges Iceberg tables only/);
    const { [ENV.optimizeRetentionDays]: _missing, ...incomplete } = icebergEnvironment(optimizerSettings(DEFAULTS));
    process.env = incomplete;
    await expect(createOptimizerHandler(factories)()).rejects.toThrow(/STREAMLAKE_OPTIMIZE_RETENTION_DAYS is not set/);
  });
});
