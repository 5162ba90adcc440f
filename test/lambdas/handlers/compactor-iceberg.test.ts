import { join } from 'node:path';
import { CreateTableCommand, GetTableCommand, UpdateTableCommand } from '@aws-sdk/client-glue';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { SUMMARY } from '../../../lambdas/core/iceberg-metadata.ts';
import { curatedPrefix, icebergMetadataPrefix } from '../../../lambdas/core/lake-layout.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import { createCompactorHandler } from '../../../lambdas/handlers/compactor.ts';
import { ENV } from '../../../lambdas/handlers/environment.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorSettings } from '../../../lib/functions/pipeline-functions.ts';
import { FakeS3 } from '../../helpers/fake-s3.ts';
import { FakeGlue } from './fake-glue.ts';
import { BUCKET, currentMetadata, DATABASE, icebergEnvironment, localTopicPerTest } from './iceberg-lake.ts';

const START = Date.UTC(2026, 6, 1, 8, 0);
const TABLE = 'device_logs';

describe('compactor handler of an Iceberg table', () => {
  const topic = localTopicPerTest();
  const fleet = new DeviceFleet({ ...DEFAULTS, devices: 20, corruptShare: 0.05 });
  let minute = 0;
  beforeEach(() => void (minute = 0));
  const produce = async (minutes: number) => {
    for (const end = minute + minutes; minute < end; ) await produceMinute(fleet, topic.log, START + ++minute * 60_000);
  };

  it('commits each run as a snapshot through the Glue catalog: creates the table at the first, updates it at the version it read after', async () => {
    const s3 = new FakeS3(BUCKET);
    const glue = new FakeGlue(DATABASE);
    const regions: string[] = [];
    process.env = icebergEnvironment(compactorSettings(DEFAULTS));
    const handler = createCompactorHandler({ s3Client: () => s3.client, glueClient: (region) => (regions.push(region), glue.client), openReader: async () => topic.log });

    await produce(10);
    const first = await handler();
    const created = glue.mock.commandCalls(CreateTableCommand).map((c) => c.args[0].input);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ DatabaseName: DATABASE, TableInput: { Name: TABLE, TableType: 'EXTERNAL_TABLE', Parameters: { table_type: 'ICEBERG' }, StorageDescriptor: { Location: `s3://${BUCKET}/${curatedPrefix(TABLE).slice(0, -1)}` } } });
    const firstMetadata = created[0]!.TableInput!.Parameters!.metadata_location!;

    await produce(10);
    const second = await handler();
    const updated = glue.mock.commandCalls(UpdateTableCommand).map((c) => c.args[0].input);
    expect(updated).toHaveLength(1);
    expect(updated[0]).toMatchObject({ DatabaseName: DATABASE, VersionId: '0', TableInput: { Name: TABLE, Parameters: { table_type: 'ICEBERG', previous_metadata_location: firstMetadata } } });
    // A run costs two Glue requests (what the README's request pricing counts): one GetTable, one CreateTable or UpdateTable.
    expect(glue.mock.calls()).toHaveLength(4);
    expect(glue.mock.commandCalls(GetTableCommand).map((c) => c.args[0].input)).toEqual([{ DatabaseName: DATABASE, Name: TABLE }, { DatabaseName: DATABASE, Name: TABLE }]);
    expect(regions).toEqual(['eu-west-1']);

    // The table Glue points at is a metadata file in the lake whose current snapshot holds both runs' records and the offsets read.
    const { key, metadata } = currentMetadata(s3, glue);
    expect(key.startsWith(icebergMetadataPrefix(TABLE))).toBe(true);
    const snapshot = metadata.snapshots.find((s) => s['snapshot-id'] === metadata['current-snapshot-id'])!;
    expect(metadata.snapshots).toHaveLength(2);
    expect(Number(snapshot.summary['total-records'])).toBe(first.rowsWritten + second.rowsWritten);
    expect(first.rowsWritten + first.quarantined + second.rowsWritten + second.quarantined).toBe(20 * 20);
    const offsets = JSON.parse(snapshot.summary[SUMMARY.offsets]!) as Record<string, number>;
    expect(Object.values(offsets).reduce((sum, next) => sum + next, 0)).toBe(20 * 20);
    // Data under the table's data/ folder; the object-store catalog of local runs is not used on AWS.
    expect([...s3.objects.keys()].some((k) => k.startsWith(`${curatedPrefix(TABLE)}data/`))).toBe(true);
    expect([...s3.objects.keys()].filter((k) => k.startsWith('catalog/'))).toEqual([]);
  });

  it('finishes a commit that lost the race to a concurrent compactor without committing the run twice', async () => {
    const s3 = new FakeS3(BUCKET);
    const glue = new FakeGlue(DATABASE);
    process.env = icebergEnvironment(compactorSettings(DEFAULTS));
    const factories = { s3Client: () => s3.client, glueClient: () => glue.client, openReader: async () => topic.log };
    await produce(10);
    glue.raceNextCreates(2);
    const [a, b] = await Promise.all([createCompactorHandler(factories)(), createCompactorHandler(factories)()]);
    const { metadata } = currentMetadata(s3, glue);
    // Both compactors found no table and raced to create it: one commit won, the other reloaded and found its run committed.
    expect(glue.mock.commandCalls(CreateTableCommand)).toHaveLength(2);
    expect(glue.mock.commandCalls(UpdateTableCommand)).toEqual([]);
    expect(metadata.snapshots).toHaveLength(1);
    expect(Number(metadata.snapshots[0]!.summary['total-records'])).toBe(Math.max(a.rowsWritten, b.rowsWritten));
  });

  it('fails fast naming the Glue database variable when it is missing', async () => {
    const { [ENV.glueDatabase]: _missing, ...incomplete } = icebergEnvironment(compactorSettings(DEFAULTS));
    process.env = incomplete;
    const handler = createCompactorHandler({ s3Client: () => new FakeS3(BUCKET).client, glueClient: () => new FakeGlue(DATABASE).client, openReader: async () => topic.log });
    await expect(handler()).rejects.toThrow(/STREAMLAKE_GLUE_DATABASE is not set/);
  });

  it('leaves Glue alone for a Hive-Parquet table, which needs no Glue database', async () => {
    const s3 = new FakeS3(BUCKET);
    const glue = new FakeGlue(DATABASE);
    const { [ENV.glueDatabase]: _none, ...hive } = icebergEnvironment(compactorSettings(DEFAULTS), 'orders');
    process.env = hive;
    const orders = await LocalLog.open({ dir: join(topic.dir, 'orders'), topic: 'shop.orders', partitions: 1 });
    try {
      await createCompactorHandler({ s3Client: () => s3.client, glueClient: () => glue.client, openReader: async () => orders })();
    } finally {
      await orders.close();
    }
    expect(glue.mock.calls()).toEqual([]);
  });
});
