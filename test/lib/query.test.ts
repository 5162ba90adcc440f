import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketOfKey, curatedPrefix, partitionKeys, quarantinePrefix } from '../../lambdas/core/lake-layout.ts';
import { glueType, QUARANTINE_COLUMNS } from '../../lambdas/core/schema.ts';
import { tableColumns } from '../../lambdas/core/table-declaration.ts';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { clip } from '../../lib/query/lake-catalog.ts';
import { dataDirLayout } from '../../src/local/data-dir.ts';
import { runLocal } from '../../src/local/runner.ts';
import { resourcesOf, synthStack } from '../helpers/synth.ts';
import { tempDir } from '../helpers/lake.ts';
import { DECLARED, DEVICE_LOGS } from '../helpers/tables.ts';

const { template } = synthStack();
const tables = resourcesOf(template, 'AWS::Glue::Table').map(([, t]) => t.Properties.TableInput);
const deviceLogs = tables.find((t) => t.Name === 'device_logs');
const quarantine = tables.find((t) => t.Name === 'device_logs_quarantine');

/** Resolves the template's `Fn::Join` of the bucket URL with a bucket named `lake`. */
function withBucket(value: unknown): string {
  const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return join[1].map((part) => (typeof part === 'string' ? part : 'lake')).join(join[0]);
}

describe('Glue tables', () => {
  it('declare the columns of the declaration, with _extra and lineage, and dt/hour partitions', () => {
    expect(deviceLogs.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type])).toEqual(tableColumns(DEVICE_LOGS).map((c) => [c.name, glueType(c)]));
    expect(deviceLogs.PartitionKeys.map((c: any) => [c.Name, c.Type])).toEqual(partitionKeys('hour').map((c) => [c.name, glueType(c)]));
    expect(deviceLogs.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    expect(quarantine.StorageDescriptor.Columns.map((c: any) => c.Name)).toEqual(QUARANTINE_COLUMNS.map((c) => c.name));
  });

  it('project dt as a date and hour as a two-digit integer, so no partition needs registering', () => {
    expect(deviceLogs.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2024-01-01,NOW',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
    });
    expect(withBucket(deviceLogs.Parameters['storage.location.template'])).toBe(`s3://lake/${curatedPrefix('device_logs')}dt=\${dt}/hour=\${hour}/`);
    expect(withBucket(quarantine.Parameters['storage.location.template'])).toBe(`s3://lake/${quarantinePrefix('device_logs')}dt=\${dt}/`);
  });

  describe('against what the local run really writes', () => {
    const dir = tempDir();
    afterAll(() => dir.remove());

    it('locates every file the compactor wrote under the projected partition of its rows', async () => {
      await runLocal({ dataDir: dir.path, minutes: 10, devices: 5, seed: 1, codec: 'snappy', start: Date.UTC(2026, 3, 5, 23, 55) });
      const files = await new LocalDirectoryStore(dataDirLayout(dir.path).lakeDir).list(curatedPrefix('device_logs'));
      expect(files.length).toBeGreaterThan(1);
      const template = withBucket(deviceLogs.Parameters['storage.location.template']);
      for (const { key } of files) {
        const { dt, hour } = bucketOfKey(key)!;
        const projectedHour = String(hour).padStart(Number(deviceLogs.Parameters['projection.hour.digits']), '0');
        const location = template.replace('${dt}', dt).replace('${hour}', projectedHour);
        expect(`s3://lake/${key}`.startsWith(location)).toBe(true);
      }
    });
  });
});

describe('Glue descriptions', () => {
  it('are cut to what Glue holds, so a long field description never fails the deploy', () => {
    expect(clip('x'.repeat(300), 255)).toHaveLength(255);
    expect(clip('x'.repeat(300), 255).endsWith('…')).toBe(true);
    expect(clip('short enough', 255)).toBe('short enough');
  });
});

describe('Athena workgroup', () => {
  it('runs engine v3 with enforced, encrypted results, a scan limit and CloudWatch metrics', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: DEFAULTS.athenaWorkgroup,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: DEFAULTS.athenaBytesScannedCutoffMB * 1024 * 1024,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: { OutputLocation: Match.anyValue(), EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } },
      },
    });
  });

  it('ships every named query of the declared tables, verbatim', () => {
    const deployed = resourcesOf(template, 'AWS::Athena::NamedQuery').map(([, q]) => q.Properties);
    expect(deployed.map((q) => [q.Name, q.QueryString, q.Database])).toEqual(DECLARED.queries.map((q) => [q.name, q.sql, DEFAULTS.glueDatabase]));
  });
});
